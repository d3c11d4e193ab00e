"""Ingest into a Xapian cluster: each article to the shard a stable hash of its id names.

``XapianIndexer`` is used as the Whoosh engine's ``Indexer`` is (``ingest.py`` picks one by
``NEWS_ENGINE``): ``upsert`` counts new, changed and unchanged articles by their fingerprint
(kept in the stored document), extracts names for those that ask, and writes each batch to
every shard it touches, one writer connection per shard (``xapian-tcpsrv --writable``, at the
shard's read port + 1), committing every shard at the end of the batch. A shard named by its
folder (``search.cluster``: a bulk load on the machine that holds it) is written directly.

The documents are made by ``processes`` processes (``DocumentMaker``: the analysis is Python,
the writing is Xapian's, on threads of this process, one a shard); which articles of a batch
are new, changed or unchanged is one query a shard, not one look-up an article.

What is atomic: one shard's part of a batch (a Xapian commit). What is not: a batch across
shards: an ingest stopped between two shards' commits leaves the batch on some shards only.
Running the same ingest again completes it: articles already written are unchanged, the rest
are added. A shard whose writer does not answer stops the ingest before anything of the batch
is written to any shard (every writer is checked first), with a message naming it; batches
committed before stay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import xapian

from search.aliases import Aliases
from search.cluster import Shard, parse_shards
from search.engines.xapian.documents import (ALIASED, ALIASES_KEY, ID_PREFIX, NAME_JOIN,
                                             NAME_PREFIX, SLOT_DAY, SLOT_NAMES,
                                             article_document, document_article, id_term,
                                             keep_story, kept_aliases, set_sketch, set_story,
                                             slot_day,
                                             stored, term)
from search.engines.xapian.stories import ShardStored, story_documents
from search.facets import display_name
from search.proc import die_with_parent, forking
from search.engines.xapian.shards import joined, write_timeout
from search.errors import IndexOutdated, IndexWriteError
from search.ingest.records import Prepared, batched, complete_articles
from search.models import ENTITY_KINDS, Article, IngestStats
from search.people import Extractor
from search.query import date_to_day
from search.resolution import LoneNames
from search.story_keeper import StoryKeeper

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1_000
STORIES_KEY = "stories"  # "1": the cluster keeps stories, "0": each article its own story


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def shard_of(article_id: str, shards: int) -> int:
    """The shard an article lives on: CRC-32 of its id, modulo the number of shards (stable
    across runs, processes and machines)."""
    return zlib.crc32(article_id.encode("utf-8")) % shards


class ShardPeople:
    """``search.resolution.PeopleDays`` on the shards being written: the people terms, the
    days of the articles naming each (a match spy on the day slot: one request a name) and
    a name as an article writes it."""

    def __init__(self, db: xapian.Database):
        self.db = db
        self._first: dict[str, str] = {}

    @classmethod
    @contextlib.contextmanager
    def of(cls, writers: list[xapian.WritableDatabase]):
        yield cls(joined(writers))

    def terms(self) -> list[str]:
        prefix = NAME_PREFIX["people"]
        out = []
        for item in self.db.allterms(prefix):
            key = item.term.decode("utf-8")[len(prefix):]
            if not key.startswith("#"):  # (a name too long for a term is kept hashed)
                out.append(key)
        return out

    def days(self, term: str) -> list:
        enquire = xapian.Enquire(self.db)
        enquire.set_query(xapian.Query(NAME_PREFIX["people"] + term))
        enquire.set_weighting_scheme(xapian.BoolWeight())
        spy = xapian.ValueCountMatchSpy(SLOT_DAY)
        enquire.add_matchspy(spy)
        mset = enquire.get_mset(0, 1, self.db.get_doccount())
        if mset.empty():
            return []
        for item in mset:
            self._first[term] = item.document.get_value(SLOT_NAMES["people"]).decode("utf-8")
        days, dated = [], 0
        for item in spy.values():
            days.append(date_to_day(slot_day(item.term.decode("ascii"))))
            dated += item.termfreq
        if mset.get_matches_estimated() > dated:
            days.append(None)  # undated articles name them too
        return days

    def display(self, term: str) -> str:
        return display_name(", ".join(self._first.get(term, "").split(NAME_JOIN)), term, True)


def _documents_task(items: list[tuple[Article, str, dict | None]]) -> list[bytes]:
    return [article_document(*item).serialise() for item in items]


class _Made:
    def __init__(self, pending, done: list[bytes] | None):
        self._pending, self._done = pending, done

    def get(self) -> list[bytes]:
        if self._done is None:
            self._done = [doc for part in self._pending.get() for doc in part]
        return self._done


class DocumentMaker:
    """``article_document`` for many articles on ``processes`` processes (forked on first use,
    dying with the ingest), returned serialised (``xapian.Document.unserialise``)."""

    TASK = 64  # articles sent to a process at a time

    def __init__(self, processes: int = 2):
        self.processes = max(1, processes)
        self._pool = None

    def __call__(self, items: list[tuple[Article, str, dict | None]]) -> list[bytes]:
        return self.start(items).get()

    def start(self, items: list[tuple[Article, str, dict | None]]) -> _Made:
        """The documents of ``items``, made in the background: ``.get()`` waits for them."""
        tasks = [items[i:i + self.TASK] for i in range(0, len(items), self.TASK)]
        if self.processes == 1 or len(tasks) < 2:
            return _Made(None, _documents_task(items))
        if self._pool is None:
            import multiprocessing
            import os

            with forking():
                self._pool = multiprocessing.get_context("fork").Pool(
                    self.processes, initializer=die_with_parent, initargs=(os.getpid(),))
        return _Made(self._pool.map_async(_documents_task, tasks), None)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


class XapianIndexer:
    def __init__(self, shards: list[Shard] | str, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 rebuild: bool = False, dry_run: bool = False, processes: int = 2,
                 on_progress: Callable[[str], None] | None = None,
                 aliases: Aliases | None = None, stories: bool = True, **_ignored):
        self.shards = parse_shards(shards) if isinstance(shards, str) else list(shards)
        # a rebuild writes every article again and then drops those its sources no longer
        # hold; not a swap as on Whoosh: an interrupted rebuild has dropped nothing, and
        # running it again completes it
        self.rebuild = rebuild
        self._seen: set[str] = set()
        # the aliases applied to what is written: those given (kept as the archive's when the
        # run ends well), else the archive's own (read from the shards on entering)
        self._new_aliases = aliases
        self.aliases = aliases if aliases is not None else Aliases()
        self.batch_size = max(1, batch_size)
        self.dry_run = dry_run
        self.stats = IngestStats()
        self._on_progress = on_progress
        self._extractor = Extractor(processes)  # (its processes start on first use)
        self._maker = DocumentMaker(processes)
        # lone surnames resolved against the shards' people (search.resolution)
        self._lone = LoneNames(lambda: ShardPeople.of(self._writers))
        # stories kept as articles come and go (search.engines.xapian.stories); without, each
        # article written is a story of its own
        self._want_stories = stories
        self._stories: StoryKeeper | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._writes: list = []  # the last batch's writes, one a shard, not yet waited for
        self._submitted = 0
        self._make_ahead = True
        self._writers: list[xapian.WritableDatabase | None] = []
        self._started = 0.0

    def __enter__(self) -> XapianIndexer:
        self._started = time.perf_counter()
        self._writers = []
        try:
            for shard in self.shards:
                self._writers.append(self._connect(shard))
            if self._new_aliases is None:
                text = self._writers[0].get_metadata(ALIASES_KEY).decode("utf-8")
                self.aliases = kept_aliases(text)
            self._keep_stories()
        except BaseException:
            for db in self._writers:
                with contextlib.suppress(xapian.Error):
                    db.close()
            self._writers = []
            raise
        # a thread per shard: its look-ups and writes wait on the network, not on Python
        self._threads = ThreadPoolExecutor(max_workers=len(self.shards))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._finish_writes()
                if self._new_aliases is not None and not self.dry_run:
                    # kept as the archive's (every shard's metadata) once all else is written
                    for i, db in enumerate(self._writers):
                        try:
                            db.set_metadata(ALIASES_KEY, self._new_aliases.text)
                            db.commit()
                        except xapian.Error as exc:
                            raise self._failed(i, exc, "keeping the aliases file on") from None
            else:
                # the ingest failed or was interrupted: a shard's part of the last batch that
                # is being written is committed (whole), the others not started
                for write in self._writes:
                    write.cancel()
        finally:
            self._threads.shutdown(wait=True)
            self._extractor.close()
            self._maker.close()
            if self._stories is not None:
                self._stories.close()
            for db in self._writers:
                if db is not None:
                    try:
                        db.close()
                    except xapian.Error:
                        pass
            self._writers = []
            self.stats.seconds = time.perf_counter() - self._started

    def _keep_stories(self) -> None:
        """Stories are the cluster's choice, as they are an index's on the Whoosh engine: made
        by its first ingest (or a rebuild: ``--no-stories`` or not), kept by every shard as
        its metadata ``STORIES_KEY``; a cluster keeping them refuses ``--no-stories`` but in a
        rebuild. (A cluster written before stories were kept keeps none.)"""
        kept = {db.get_metadata(STORIES_KEY).decode("ascii") for db in self._writers} - {""}
        written = any(db.get_doccount() for db in self._writers)
        if self.rebuild or not (kept or written):
            keep = self._want_stories
        elif "1" in kept:
            if not self._want_stories:
                raise IndexOutdated(
                    f"the cluster {', '.join(s.name for s in self.shards)} keeps stories: it "
                    "cannot be added to without them. To drop them, rebuild it from all its "
                    "sources with --rebuild --no-stories")
            keep = True
        else:
            keep = False
        # (sketches made here: about 35 microseconds an article, made for a batch at once,
        # where sending the texts to processes busy making documents cost more)
        self._stories = StoryKeeper(None, 1) if keep else None

    def _connect(self, shard: Shard) -> xapian.WritableDatabase:
        if shard.path is not None:
            try:
                Path(shard.path).mkdir(parents=True, exist_ok=True)
                return xapian.WritableDatabase(shard.path, xapian.DB_CREATE_OR_OPEN)
            except xapian.DatabaseLockError:
                reason = ("another writer holds its lock: a cluster's server, or another "
                          "ingest; stop it first, or name the shard's server host:port")
            except (xapian.Error, OSError) as exc:
                reason = str(exc)
            raise IndexWriteError(
                f"shard {shard.path} cannot be written ({reason}); nothing more was written, "
                "batches committed before are kept")
        host, port = shard.write
        ms = max(1, int(write_timeout() * 1000))
        try:
            return xapian.remote_open_writable(host, port, ms, ms)
        except xapian.Error as exc:
            raise IndexWriteError(
                f"the writer of shard {shard.name} ({host}:{port}) does not "
                f"answer ({exc.get_msg() if hasattr(exc, 'get_msg') else exc}); nothing more "
                "was written, batches committed before are kept") from None

    def apply_aliases(self) -> int:
        """Rewrite the names of the stored articles that ``self.aliases`` concerns, or that an
        earlier aliases file changed (from their names as found, so that an alias taken out
        gives them back); texts and fingerprints are kept. Returns how many articles were (in
        a dry run: would be) changed."""
        self._finish_writes()
        concerns = self.aliases.concerns()
        changed = 0
        for i, db in enumerate(self._writers):
            try:
                queries = [xapian.Query(ALIASED)] + [
                    xapian.Query(term(NAME_PREFIX[kind], key))
                    for kind in ENTITY_KINDS for key in sorted(concerns[kind])]
                enquire = xapian.Enquire(db)
                enquire.set_weighting_scheme(xapian.BoolWeight())
                enquire.set_query(xapian.Query(xapian.Query.OP_OR, queries))
                mset = enquire.get_mset(0, max(1, db.get_doccount()))
                mset.fetch()
                docs = []
                for match in mset:
                    data = stored(match.document)
                    article = document_article(match.document, data)
                    current = {k: getattr(article, k) for k in ENTITY_KINDS}
                    had = data.get("names_found")
                    found = {k: tuple(had.get(k, ())) for k in ENTITY_KINDS} if had else current
                    new = self.aliases.apply(found)
                    if new == current and (new != found) == bool(had):
                        continue
                    names_found = {k: list(v) for k, v in found.items() if v} \
                        if new != found else None
                    doc = article_document(replace(article, **new), data["fingerprint"],
                                           names_found)
                    keep_story(doc, match.document)
                    docs.append((article.id, doc.serialise()))
                changed += len(docs)
                if docs and not self.dry_run:
                    self._write(i, docs)
            except xapian.Error as exc:
                raise self._failed(i, exc, "applying the aliases to") from None
        return changed

    def count(self) -> int:
        self._finish_writes()
        return sum(db.get_doccount() for db in self._writers)

    # -- writing -------------------------------------------------------------------------------

    def upsert(self, articles: Iterable[Article | Prepared]) -> IngestStats:
        for pending in batched(articles, self.batch_size, self.stats):
            if self.rebuild:
                self._seen.update(pending)
            self._flush(pending)
        if self.rebuild:
            self._drop_unseen()
        return self.stats

    def _stored_ids(self, db: xapian.WritableDatabase) -> Iterable[str]:
        for item in db.allterms(ID_PREFIX):
            key = item.term.decode("utf-8")[len(ID_PREFIX):]
            if not key.startswith("#"):
                yield key
                continue
            # an id too long for a term is kept hashed: its documents say which
            for posting in db.postlist(item.term):
                yield stored(db.get_document(posting.docid))["id"]

    def _drop_unseen(self) -> None:
        """The end of a rebuild: the articles of every shard that this run's sources did not
        hold are deleted (counted in a dry run)."""
        self._finish_writes()
        for i, db in enumerate(self._writers):
            try:
                gone = [a for a in self._stored_ids(db) if a not in self._seen]
                self.stats.deleted += len(gone)
                if self.dry_run or not gone:
                    continue
                # the stories they leave: their other versions, again
                rewrites = self._story_rewrites([], gone)
                for article_id in gone:
                    db.delete_document(id_term(article_id))
                db.set_metadata("last_ingest", _now())
                db.commit()
            except xapian.Error as exc:
                raise self._failed(i, exc, "dropping what the sources no longer hold from") \
                    from None
            self._write_all(rewrites)

    def _check_writers(self) -> None:
        for shard, db in zip(self.shards, self._writers):
            try:
                db.reopen()
                db.get_doccount()
            except xapian.Error as exc:
                raise IndexWriteError(
                    f"the writer of shard {shard.name} stopped answering "
                    f"({exc}); this batch was not written, batches committed before are kept"
                ) from None

    def _finish_writes(self) -> None:
        """Wait for the last batch's writes (each shard's, on its thread); a failed one
        raises here."""
        writes, self._writes = self._writes, []
        for write in writes:
            write.result()
        if writes and self._on_progress:
            self._on_progress(f"{self._submitted:,} articles committed")

    def _flush(self, pending: dict[str, Prepared]) -> None:
        items = list(pending.values())
        # The documents are made ahead, while the last batch is still being written, when no
        # article of this batch waits for names to be extracted and the last batch held no
        # unchanged article (a load of new articles: a re-run of the same sources makes
        # none it would not write).
        ahead = None
        if not self.dry_run and self._make_ahead and not any(p.extract for p in items):
            articles, found = self.aliases.applied([p.article for p in items])
            ahead = (articles, self._maker.start([(a, p.fingerprint, found.get(a.id))
                                                  for p, a in zip(items, articles)]))
        self._finish_writes()
        self._check_writers()
        n = len(self.shards)
        by_shard: list[list[Prepared]] = [[] for _ in range(n)]
        for p in pending.values():
            by_shard[shard_of(p.article.id, n)].append(p)
        # new, changed and unchanged, shard by shard (one look-up each, in parallel)
        plans = list(self._threads.map(self._plan, range(n), by_shard))
        # (a rebuild writes the unchanged articles again too: their names extracted anew)
        to_write = [p for adds, updates, same in plans
                    for p in adds + updates + (same if self.rebuild else [])]
        self.stats.added += sum(len(a) for a, _, _ in plans)
        self.stats.updated += sum(len(u) for _, u, _ in plans)
        self.stats.unchanged += sum(len(s) for _, _, s in plans)
        self._make_ahead = self.rebuild or not any(same for _, _, same in plans)
        done = self.stats.added + self.stats.updated + self.stats.unchanged
        if not self.dry_run and to_write:
            by_shard_docs: list[list] = [[] for _ in range(n)]
            written: list[Article] = []
            if ahead is not None:
                writing = {p.article.id for p in to_write}
                for a, doc in zip(ahead[0], ahead[1].get()):
                    if a.id in writing:
                        by_shard_docs[shard_of(a.id, n)].append((a.id, doc))
                        written.append(a)
            else:
                articles = complete_articles(to_write, self._extractor, self._on_progress)
                extracted = {p.article.id for p in to_write if "people" in p.extract}
                if extracted:
                    articles = self._lone.resolve(articles, extracted)
                articles, found = self.aliases.applied(articles)
                made = self._maker([(a, p.fingerprint, found.get(a.id))
                                    for p, a in zip(to_write, articles)])
                for a, doc in zip(articles, made):
                    by_shard_docs[shard_of(a.id, n)].append((a.id, doc))
                written = list(articles)
            if self._stories is not None:
                # each article's story (and its sketch, by which later ones find it); the
                # stored articles whose story changes with the batch, written again with it
                prints = {p.article.id: p.fingerprint for p in to_write}
                stories, rewrites = self._plan_stories([(a, prints[a.id]) for a in written],
                                                       ())
                by_shard_docs = [[(i, doc, stories.get(i)) for i, doc in docs]
                                 for docs in by_shard_docs]
                for i, doc in rewrites:
                    by_shard_docs[shard_of(i, n)].append((i, doc, None))
            # each shard's part written and committed by a thread of its own, while the next
            # batch is read (and its documents made ahead); the next batch waits for them
            self._writes = [self._threads.submit(self._write, i, by_shard_docs[i])
                            for i in range(n)]
            self._submitted = done
        elif self._on_progress:
            self._on_progress(f"{done:,} articles {'checked' if self.dry_run else 'committed'}")

    def _stored_prints(self, db: xapian.WritableDatabase, ids: list[str]) -> dict[str, str]:
        """The stored fingerprints of those of ``ids`` the shard holds: one query for all of
        them (a look-up each was a network round trip each)."""
        if not ids or not db.get_doccount():
            return {}
        enquire = xapian.Enquire(db)
        enquire.set_weighting_scheme(xapian.BoolWeight())
        enquire.set_query(xapian.Query(xapian.Query.OP_OR, [id_term(i) for i in ids]))
        mset = enquire.get_mset(0, len(ids))
        mset.fetch()
        prints = {}
        for match in mset:
            data = stored(match.document)
            prints[data["id"]] = data["fingerprint"]
        return prints

    def _plan(self, i: int, items: list[Prepared]):
        adds, updates, same = [], [], []
        db = self._writers[i]
        try:
            prints = self._stored_prints(db, [p.article.id for p in items])
        except xapian.Error as exc:
            raise self._failed(i, exc, "checking") from None
        for p in items:
            was = prints.get(p.article.id)
            (adds if was is None else same if was == p.fingerprint else updates).append(p)
        return adds, updates, same

    def _plan_stories(self, batch: list[tuple[Article, str]], removed) \
            -> tuple[dict[str, tuple], list[tuple[str, bytes]]]:
        """The stories of ``batch`` ((article, fingerprint) pairs being written) and of the
        stored articles it, or deleting ``removed``, touches: ({id: (story, shared, its
        signature)} for the batch, [(id, document)] of the stored articles written again)."""
        try:
            source = ShardStored(joined(self._writers))
            plan = self._stories.plan(source, batch, removed)
            rewrites = story_documents(plan, source)
        except xapian.Error as exc:
            raise IndexWriteError(
                f"reading the stories of the shards failed ({exc}); this batch was not "
                "written, batches committed before are kept") from None
        signatures = {v.id: v.signature for v in plan.versions}
        return {i: (story, i in plan.shared, signatures.get(i))
                for i, story in plan.story.items()}, rewrites

    def _story_rewrites(self, batch, removed) -> list[list]:
        """``_plan_stories``' rewrites, shard by shard (none without stories)."""
        n = len(self.shards)
        by_shard: list[list] = [[] for _ in range(n)]
        if self._stories is not None and not self.dry_run and (batch or removed):
            for i, doc in self._plan_stories(batch, removed)[1]:
                by_shard[shard_of(i, n)].append((i, doc, None))
        return by_shard

    def _write_all(self, by_shard: list[list]) -> None:
        for i, docs in enumerate(by_shard):
            if docs:
                self._write(i, docs)

    def _write(self, i: int, docs: list) -> None:
        for attempt in (1, 2):
            db = self._writers[i]
            try:
                for article_id, doc, *story in docs:
                    doc = xapian.Document.unserialise(doc)
                    if story and story[0] is not None:
                        value, shared, signature = story[0]
                        set_story(doc, article_id, value, shared)
                        if signature is not None:
                            set_sketch(doc, article_id, signature)
                    db.replace_document(id_term(article_id), doc)
                # every shard records the batch's time, even one the batch has nothing for
                db.set_metadata("last_ingest", _now())
                db.set_metadata(STORIES_KEY, "1" if self._stories is not None else "0")
                db.commit()
                return
            except xapian.NetworkError as exc:
                # the connection was dropped (a server's time limit): the shard's part of the
                # batch was not committed; on a new connection it is written again (by id:
                # nothing twice)
                if attempt == 2:
                    raise self._failed(i, exc, "writing") from None
                log.warning("shard %s: %s; writing its part of the batch again",
                            self.shards[i].name, exc)
                try:
                    self._writers[i] = self._connect(self.shards[i])
                except IndexWriteError:
                    raise self._failed(i, exc, "writing") from None
            except xapian.Error as exc:
                raise self._failed(i, exc, "writing") from None

    def _failed(self, i: int, exc: Exception, doing: str) -> IndexWriteError:
        shard = self.shards[i]
        return IndexWriteError(
            f"{doing} shard {shard.name} failed ({exc}); its part of this "
            "batch was not committed (other shards' parts may be: run the ingest again to "
            "complete it), batches committed before are kept")

    def delete(self, ids: Iterable[str]) -> list[str]:
        self._finish_writes()
        missing: list[str] = []
        n = len(self.shards)
        ids = list(dict.fromkeys(ids))
        # the stories the deleted articles leave: their other versions, again (with the
        # deletes: each shard's commit holds both)
        rewrites = self._story_rewrites([], ids)
        by_shard: list[list[str]] = [[] for _ in range(n)]
        for article_id in ids:
            by_shard[shard_of(article_id, n)].append(article_id)
        for i, db in enumerate(self._writers):
            if not by_shard[i]:
                continue
            try:
                held = self._stored_prints(db, by_shard[i])  # (one query a shard)
                for article_id in by_shard[i]:
                    if article_id not in held:
                        missing.append(article_id)
                        continue
                    self.stats.deleted += 1
                    if not self.dry_run:
                        db.delete_document(id_term(article_id))
                        db.set_metadata("last_ingest", _now())
            except xapian.Error as exc:
                raise self._failed(i, exc, "deleting from") from None
        order = {article_id: k for k, article_id in enumerate(ids)}
        missing.sort(key=order.__getitem__)  # (as given)
        if not self.dry_run:
            for i, db in enumerate(self._writers):
                try:
                    for article_id, doc, _ in rewrites[i]:
                        db.replace_document(id_term(article_id),
                                            xapian.Document.unserialise(doc))
                    db.commit()
                except xapian.Error as exc:
                    raise self._failed(i, exc, "deleting from") from None
        return missing
