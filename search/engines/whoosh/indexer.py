"""The only writer of the index: batched, atomic upserts and deletes.

Each batch is committed on its own (Whoosh writes new segment files and then renames its table
of contents into place), so a process killed at any moment leaves an index holding every batch
committed before the kill and nothing of the batch in progress. Running the same ingest again
completes the job: articles already stored unchanged are recognised by a fingerprint term
(a hash of the input + id) without reading any stored document, and are neither extracted
again nor rewritten. People are extracted only for the new and changed articles of a batch.

A rebuild writes every article into a fresh index and counts against the live one: articles of
the live index that the sources no longer hold are counted as deleted.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import queue
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.reading import SegmentReader
from whoosh.writing import NO_MERGE, LockError, SegmentWriter

from search.aliases import Aliases
from search.analysis import INDEX_FORMAT, MIN_WRITABLE_FORMAT, exact_key, index_format
from search.engines.whoosh import segments, store
from search.engines.whoosh.people import PeopleDays
from search.engines.whoosh.postings import RankingCodec, term_postings
from search.engines.whoosh.story_index import BandStore, IndexStored, keeps_stories
from search.errors import IndexLocked, IndexOutdated, IndexWriteError
from search.ingest.records import Prepared, batched, complete_articles
from search.models import ENTITY_KINDS, Article, IngestStats
from search.people import Extractor
from search.proc import die_with_parent, forking
from search.resolution import LoneNames
from search.schema import ALIAS_FIELDS, article_to_doc, doc_to_article
from search.stories import Version
from search.story_keeper import StoryKeeper

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 20_000
DEFAULT_LIMIT_MB = 512  # per writer process: a 10,000-article segment sorts in memory
# batches at least this large are analysed by this many writer processes in parallel
PARALLEL_FROM = 500
PROCESSES = max(1, min(2, os.cpu_count() or 1))
# segments with fewer articles are merged at the end of an ingest run, once there are more
# than SMALL_SEGMENTS_KEPT of them (see _consolidate)
SMALL_SEGMENT = DEFAULT_BATCH_SIZE // 2
SMALL_SEGMENTS_KEPT = 6


class Indexer:
    """Use as a context manager: holds the ingest lock from ``__enter__`` to ``__exit__``.

    With ``rebuild=True`` everything goes into a new index that replaces the live one only when
    the ``with`` block ends without an error. With ``dry_run=True`` nothing is written; the
    counts say what would have happened.
    """

    def __init__(self, directory: Path, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 limitmb: int = DEFAULT_LIMIT_MB, lock_timeout: float = 30.0,
                 rebuild: bool = False, dry_run: bool = False, processes: int = PROCESSES,
                 stories: bool = True, on_progress: Callable[[str], None] | None = None,
                 aliases: Aliases | None = None):
        self.directory = Path(directory)
        self.batch_size = max(1, batch_size)
        self.processes = max(1, processes)
        self.limitmb = limitmb
        self.lock_timeout = lock_timeout
        self.rebuild = rebuild
        self.dry_run = dry_run
        # False: a new index (a rebuild's too) keeps no stories; an index that keeps them
        # refuses to be written without
        self.stories = stories
        self.stats = IngestStats()
        self.ix = None
        self._name: str | None = None
        self._lock = None
        self._dry_seen: dict[str, str] = {}
        self._known: tuple[set[int], set[int]] | None = None
        self._started = 0.0
        self._on_progress = on_progress
        self._extractor = Extractor(self.processes)  # (its processes start on first use)
        # a rebuild: the live index's {id: fingerprint}, and {id: fingerprint} of this run's
        self._previous: dict[str, str] | None = None
        self._seen: dict[str, str] = {}
        self._stories: StoryKeeper | None = None
        # the aliases applied to what is written: those given (kept as the archive's when the
        # run ends well), else the archive's own (read in __enter__)
        self._new_aliases = aliases
        self._lone: LoneNames | None = None  # lone surnames resolved (search.resolution)
        self.aliases = aliases if aliases is not None else Aliases()

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Indexer:
        self._started = time.perf_counter()
        if self._new_aliases is None:
            self.aliases = Aliases.installed(self.directory)
        if self.dry_run:
            self.ix = store.open_index(self.directory) if store.exists(self.directory) else None
            if self.ix is not None and not self.rebuild:
                _check_format(self.ix, self.directory)
                self._check_stories(self.ix)
            if self.rebuild:
                self._previous = _stored_prints(self.ix) if self.ix is not None else {}
            return self
        self._lock = store.ingest_lock(self.directory, self.lock_timeout)
        self._lock.__enter__()
        try:
            orphans = store.remove_orphans(self.directory)
            if orphans:
                log.warning("removed the files of an interrupted rebuild: %s", ", ".join(orphans))
            if self.rebuild:
                self._previous = {}
                if store.exists(self.directory):
                    live = store.open_index(self.directory)
                    try:
                        self._previous = _stored_prints(live)
                    finally:
                        live.close()
            if self.rebuild or not store.exists(self.directory):
                self.ix, self._name = store.create_index(self.directory,
                                                         make_current=not self.rebuild,
                                                         stories=self.stories)
            else:
                self.ix = store.open_index(self.directory)
                _check_format(self.ix, self.directory)
                self._check_stories(self.ix)
            if keeps_stories(self.ix.schema):
                self._stories = self._open_stories()
        except BaseException:
            if self._stories is not None:
                self._stories.close()
            self._lock.__exit__(None, None, None)
            raise
        return self

    def _fit(self, doc: dict) -> dict:
        """``doc`` as the index's schema holds it: an index made before organisations and
        places (format 4 or earlier, added to in its own format) gets neither."""
        if "places" in doc or "organizations" in doc:
            if "places" not in self.ix.schema:
                doc.pop("places", None)
                doc.pop("organizations", None)
        return doc

    def _alias_fields(self) -> None:
        """Give an index made without them the fields that keep names as found."""
        missing = [name for name in ALIAS_FIELDS if name not in self.ix.schema]
        if not missing or self.dry_run:
            return
        writer = self._writer()
        for name in missing:
            writer.add_field(name, ALIAS_FIELDS[name])
        self._committing(writer, lambda: writer.commit(mergetype=NO_MERGE),
                         "adding the aliases' fields", "nothing else was changed")

    def apply_aliases(self) -> int:
        """Rewrite the names of the stored articles that ``self.aliases`` concerns, or that an
        earlier aliases file changed (from their names as found, so that an alias taken out
        of the file gives them back); their texts, fingerprints and stories are kept. Returns
        how many articles were (in a dry run: would be) changed."""
        if self.ix is None:
            return 0
        concerns = self.aliases.concerns()
        changes = []
        with self.ix.searcher() as searcher:
            reader = searcher.reader()
            docs: set[int] = set()
            if "aliased" in self.ix.schema:
                docs.update(searcher.document_numbers(aliased="1"))
            for kind in ENTITY_KINDS:
                if not concerns[kind] or kind not in self.ix.schema:
                    continue
                for term in reader.field_terms(kind):
                    if exact_key(term) in concerns[kind]:
                        found = term_postings(reader, kind, term)[0].tolist()
                        docs.update(d for d in found if not reader.is_deleted(d))
            for d in sorted(docs):
                stored = searcher.stored_fields(d)
                article = doc_to_article(stored)
                current = {k: getattr(article, k) for k in ENTITY_KINDS}
                found = {k: tuple(stored.get("names_found", {}).get(k, ()))
                         for k in ENTITY_KINDS} if stored.get("names_found") else current
                new = self.aliases.apply(found)
                if new == current and (new != found) == bool(stored.get("names_found")):
                    continue
                changes.append((stored, replace(article, **new), found, new != found))
        if self.dry_run or not changes:
            return len(changes)
        self._alias_fields()
        writer = self._writer()

        def write():
            for stored, article, found, aliased in changes:
                story = (stored["story"], stored.get("story_similarity") or (1.0, 1.0)) \
                    if stored.get("story") else None
                doc = self._fit(article_to_doc(article, stored.get("fingerprint"), story))
                if aliased:
                    doc["aliased"] = "1"
                    doc["names_found"] = {k: list(v) for k, v in found.items() if v}
                writer.update_document(**doc)
            writer.commit(mergetype=NO_MERGE)

        self._committing(writer, write, "applying the aliases",
                         "no article was changed; run the same command again")
        return len(changes)

    def _check_stories(self, ix) -> None:
        if not self.stories and keeps_stories(ix.schema):
            ix.close()
            raise IndexOutdated(
                f"the index in {self.directory} keeps stories: it cannot be added to without "
                f"them. To drop them, rebuild it from all its sources with --rebuild "
                f"--no-stories")

    def _open_stories(self) -> StoryKeeper:
        """The story keeper of the index written to, with its band store; a store that went
        missing beside an index holding articles is made again from their texts."""
        name = self._name or store.current_name(self.directory)
        try:
            bands = BandStore(self.directory, name)
        except (OSError, ValueError) as exc:
            raise IndexWriteError(f"cannot open the story band store of {name} in "
                                  f"{self.directory}: {exc}") from exc
        keeper = StoryKeeper(bands, self.processes)
        if bands.missing and self.count():
            log.warning("the story band store of %s was missing: making it again from the "
                        "stored articles", name)
            versions = []
            with self.ix.searcher() as searcher:
                stored = searcher.all_stored_fields()
                while chunk := [doc_to_article(f) for f in itertools.islice(stored, 10_000)]:
                    # what the store keeps: not the shingles
                    versions += [Version(v.id, v.date, None, v.signature)
                                 for v in keeper.versions(chunk).values()]
            bands.replace(versions)
        return keeper

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._extractor.close()
            if exc_type is None and self._previous is not None:
                self.stats.deleted += len(self._previous.keys() - self._seen)
            if self.dry_run:
                return
            if exc_type is None:
                self._consolidate()
            if self.rebuild and self._name:
                if exc_type is None:
                    store.make_current(self.directory, self._name)
                else:
                    store.remove_index_files(self.directory, self._name)
            if exc_type is None and self._new_aliases is not None:
                try:
                    self._new_aliases.install(self.directory)
                except OSError as err:
                    raise IndexWriteError(f"cannot keep the aliases file in {self.directory}: "
                                          f"{err}") from err
            if exc_type is None:
                try:
                    store.write_meta(self.directory, articles=self.count())
                except OSError as err:
                    raise IndexWriteError(f"cannot write {store.META_FILE}: {err}") from err
        finally:
            self.stats.seconds = time.perf_counter() - self._started
            if self._stories is not None:
                self._stories.close()
            if self.ix is not None:
                self.ix.close()
            if self._lock is not None:
                self._lock.__exit__(exc_type, exc, tb)

    def count(self) -> int:
        if self.ix is None:
            return 0
        with self.ix.searcher() as searcher:
            return searcher.doc_count()

    # -- writing -------------------------------------------------------------------------------

    def upsert(self, articles: Iterable[Article | Prepared]) -> IngestStats:
        """Add new articles, replace changed ones, count unchanged ones; commit every batch.

        ``Prepared`` articles that ask for it get their people extracted, when new or changed.
        """
        def ahead(item: Prepared) -> None:
            if self._stories is not None and self._likely_written(item):
                self._stories.ahead(item.article)

        # (Whoosh would keep both copies of one id written in one batch: the last is kept)
        for pending in batched(articles, self.batch_size, self.stats, ahead):
            self._flush(pending)
        return self.stats

    def _likely_written(self, item: Prepared) -> bool:
        """Whether ``item`` will likely be written (its story then worked out): unless its
        fingerprint is stored already (a guess: ``_plan`` decides). (A dry run keeps no
        stories: it is never asked.)"""
        if self._previous is not None:
            return self.rebuild or self._previous.get(item.article.id) != item.fingerprint
        return self.ix is None or hash(item.fingerprint) not in self._known_terms()[1]

    def _plan(self, pending: dict[str, Prepared]) -> tuple[list, list, list]:
        """(new, changed, unchanged) articles of a batch."""
        adds, updates, same = [], [], []
        if self._previous is not None:  # a rebuild counts against the live index
            for p in pending.values():
                # an id written by an earlier batch of this run counts against that batch
                stored = self._seen.get(p.article.id) or self._previous.get(p.article.id)
                if stored is None:
                    adds.append(p)
                else:
                    (same if stored == p.fingerprint else updates).append(p)
            return adds, updates, same
        if self.dry_run:
            for p in pending.values():
                stored = self._dry_seen.get(p.article.id) or (
                    self._stored(p.article.id) if self.ix else None)
                if stored == p.fingerprint:
                    same.append(p)
                else:
                    (updates if stored else adds).append(p)
                self._dry_seen[p.article.id] = p.fingerprint
            return adds, updates, same
        ids, prints = self._known_terms()
        with contextlib.ExitStack() as stack:
            opened = []

            def stored(**term) -> bool:
                # a searcher opens every segment: only when a lookup is needed at all
                if not opened:
                    opened.append(stack.enter_context(self.ix.searcher()))
                return opened[0].document_number(**term) is not None

            for p in pending.values():
                # the sets hold every term ever written, deleted documents' too: only a term
                # found there is looked up in the index (one lookup per segment)
                mark = p.fingerprint
                if hash(mark) in prints and stored(fingerprint=mark):
                    same.append(p)
                elif hash(p.article.id) in ids and stored(id=p.article.id):
                    updates.append(p)
                else:
                    adds.append(p)
        return adds, updates, same

    def _known_terms(self) -> tuple[set[int], set[int]]:
        """Hashes of the index's ``id`` and ``fingerprint`` terms, read once per run and kept
        up to date by ``_flush``. Most articles of a bulk load are new: a miss here settles
        that without looking the article up in every segment (at a million articles, 100
        segments, that lookup cost more than indexing the article)."""
        if self._known is None:
            ids: set[int] = set()
            prints: set[int] = set()
            with self.ix.reader() as reader:
                for sub, _ in reader.leaf_readers():
                    ids.update(hash(t) for t in sub.field_terms("id"))
                    prints.update(hash(t) for t in sub.field_terms("fingerprint"))
            self._known = (ids, prints)
        return self._known

    def _stored(self, article_id: str) -> str | None:  # (dry runs only)
        with self.ix.searcher() as searcher:
            fields = searcher.document(id=article_id)
        return fields.get("fingerprint") if fields else None

    def _flush(self, pending: dict[str, Prepared]) -> None:
        adds, updates, same = self._plan(pending)
        self.stats.unchanged += len(same)
        to_write = adds + updates
        replacing = {p.article.id for p in updates}
        if self.rebuild:
            # the fresh index gets every article, unchanged ones included, once: only an id
            # an earlier batch of this run wrote is replaced there
            to_write += [p for p in same if p.article.id not in self._seen]
            replacing = {p.article.id for p in to_write if p.article.id in self._seen}
            self._seen.update((p.article.id, p.fingerprint) for p in pending.values())
        if not self.dry_run and to_write:
            articles = self._complete(to_write)
            extracted = {p.article.id for p in to_write if "people" in p.extract}
            if extracted:
                if self._lone is None:
                    self._lone = LoneNames(lambda: PeopleDays.of(self.ix))
                articles = self._lone.resolve(articles, extracted)
            articles, found = self.aliases.applied(articles)
            if found:
                self._alias_fields()
            plan = None
            if self._stories is not None:
                with self.ix.searcher() as searcher:
                    plan = self._stories.plan(IndexStored(self._stories, searcher),
                                              [(a, p.fingerprint)
                                               for p, a in zip(to_write, articles)])
            writer = self._writer(len(to_write))

            def write():
                fit = self._fit
                for p, a in zip(to_write, articles):
                    doc = fit(article_to_doc(a, p.fingerprint,
                                             plan.story[a.id] if plan is not None else None))
                    if a.id in found:
                        doc["aliased"] = "1"
                        doc["names_found"] = found[a.id]
                    if a.id in replacing:
                        writer.update_document(**doc)
                    else:
                        writer.add_document(**doc)
                for doc in plan.rewrites if plan is not None else ():
                    writer.update_document(**fit(doc))
                if plan is not None:
                    # before the commit: keys of articles a killed run did not commit are
                    # ignored, and the next run writes those articles again
                    self._stories.bands.take(plan.bands())
                # no merging while the run lasts: each batch adds its segments; small ones are
                # merged at the end of the run (see _consolidate)
                writer.commit(mergetype=NO_MERGE)

            self._committing(writer, write, "writing the index",
                             "batches committed before this one are kept and searchable")
            if self._known is not None:
                for p in to_write:
                    self._known[0].add(hash(p.article.id))
                    self._known[1].add(hash(p.fingerprint))
        self.stats.added += len(adds)
        self.stats.updated += len(updates)
        if self._on_progress:
            done = self.stats.added + self.stats.updated + self.stats.unchanged
            self._on_progress(f"{done:,} articles {'checked' if self.dry_run else 'committed'}")

    def _complete(self, batch: list[Prepared]) -> list[Article]:
        return complete_articles(batch, self._extractor, self._on_progress)

    def _consolidate(self) -> None:
        """Merge the index's small segments (under ``SMALL_SEGMENT`` articles, or half the batch
        size if that is less) into one.

        Batches are committed without merging, so a bulk load leaves segments of about
        ``batch_size / PROCESSES`` articles that are never rewritten: merging in Whoosh runs at
        about the speed of indexing, and its default policy rewrites growing runs of segments
        again and again (at 200,000 articles it cost more than the indexing itself). Small
        segments, from small ingests or a run's last batch, are merged here once there are
        more than ``SMALL_SEGMENTS_KEPT`` of them, so a stream of small ingests does not pile
        them up, while one ingest of a few thousand articles (two segments, one per writer
        process) is not merged at twice its cost. Killed midway, the index keeps the unmerged
        segments, which are complete."""
        segments = self.ix._segments()
        # a run with a smaller --batch-size writes smaller segments on purpose
        small = min(SMALL_SEGMENT, max(1, self.batch_size // 2))
        chosen = {seg.segment_id() for seg in segments if seg.doc_count_all() < small}
        if len(chosen) <= SMALL_SEGMENTS_KEPT:
            return

        def policy(writer, current):
            kept = []
            for seg in current:
                if seg.segment_id() in chosen:
                    reader = SegmentReader(writer.storage, writer.schema, seg)
                    writer.add_reader(reader)
                    reader.close()
                else:
                    kept.append(seg)
            return kept

        writer = self._writer()
        self._committing(writer, lambda: writer.commit(mergetype=policy), "merging the index",
                         "every article of this run is committed and searchable, in smaller "
                         "segments")

    def _committing(self, writer, work, doing: str, kept: str) -> None:
        """Run ``work`` (which commits ``writer``); on failure give the writer's batch up, and
        turn a disk error into ``IndexWriteError`` saying what is ``kept``."""
        try:
            work()
        except OSError as exc:
            _cancel(writer)
            raise IndexWriteError(f"{doing} in {self.directory} failed: "
                                  f"{exc.strerror or exc}; {kept}") from exc
        except BaseException:
            _cancel(writer)
            raise

    def _writer(self, documents: int = 0):
        # compound=False: each segment stays a set of files. Whoosh reads a file inside a
        # compound segment file through a copy of it in memory (BufferFile wraps the mapped
        # bytes in a BytesIO): at a million articles every search process held 3 GB of
        # copied postings and term tables, and 1.4 GB more of .rnk files. Separate files
        # are read through the page cache instead.
        try:
            if self.processes > 1 and documents >= PARALLEL_FROM:
                # one job file per process, so that the parent never waits on a full queue
                return _ParallelWriter(self.ix, procs=self.processes, multisegment=True,
                                       batchsize=-(-documents // self.processes),
                                       limitmb=self.limitmb, timeout=5.0,
                                       codec=RankingCodec(), compound=False)
            return _segment_writer(self.ix, limitmb=self.limitmb, timeout=5.0,
                                   codec=RankingCodec(), compound=False)
        except LockError:
            raise IndexLocked(f"the index in {self.directory} is locked by another writer") from None
        except OSError as exc:
            raise IndexWriteError(f"cannot write to {self.directory}: {exc.strerror or exc}") from exc

    def delete(self, ids: Iterable[str]) -> list[str]:
        """Delete articles by id; returns the ids that were not in the index."""
        missing: list[str] = []
        ids = list(dict.fromkeys(ids))
        if not ids:
            return missing
        if self.rebuild:
            raise ValueError("a rebuild keeps exactly what its sources hold: delete separately")
        if self.dry_run:
            for article_id in ids:
                if self.ix is not None and self._stored(article_id) is not None:
                    self.stats.deleted += 1
                else:
                    missing.append(article_id)
            return missing
        plan = None
        if self._stories is not None:
            with self.ix.searcher() as searcher:
                plan = self._stories.plan(IndexStored(self._stories, searcher), [], removed=ids)
        writer = self._writer()
        try:
            for article_id in ids:
                if writer.delete_by_term("id", article_id):
                    self.stats.deleted += 1
                else:
                    missing.append(article_id)
            # the stories the deleted articles leave: their other versions, again
            for doc in plan.rewrites if plan is not None else ():
                writer.update_document(**self._fit(doc))
            writer.commit()
        except OSError as exc:
            _cancel(writer)
            raise IndexWriteError(f"deleting from {self.directory} failed: {exc}") from exc
        if self._stories is not None:
            self._stories.bands.remove(ids)
        return missing


def _check_format(ix, directory: Path) -> None:
    found = index_format(ix.schema)
    if found < MIN_WRITABLE_FORMAT:
        ix.close()
        raise IndexOutdated(
            f"the index in {directory} was made by an earlier version (format {found}; this one "
            f"writes format {INDEX_FORMAT}: accent-insensitive words and Snowball stems). It can "
            f"still be searched, but not added to: rebuild it from all its sources with "
            f"python ingest.py --index {directory} --rebuild PATH ...")


def _stored_prints(ix) -> dict[str, str]:
    """{id: fingerprint} of every live article of ``ix``, from the fingerprint terms
    ("<hash>:<id>"; a deleted document's terms stay until a merge, hence the check)."""
    found: dict[str, str] = {}
    with ix.reader() as reader:
        for sub, _ in reader.leaf_readers():
            deleted = set(sub._segment.deleted_docs()) if sub.has_deletions() else ()
            for term in sub.field_terms("fingerprint"):
                if deleted and sub.first_id("fingerprint", term) in deleted:
                    continue
                found[term.split(":", 1)[1]] = term
    return found


def _cancel(writer) -> None:
    """Give up a writer's batch; on a full disk even the clean-up may fail."""
    try:
        writer.cancel()
    except Exception:  # noqa: BLE001
        log.debug("cancelling the writer failed", exc_info=True)


def _segment_writer(ix, **kwargs):
    """A writer of one new segment: ``ArraySegmentWriter`` when it can write the index's
    schema, else Whoosh's own."""
    if segments.supports(ix.schema):
        return segments.ArraySegmentWriter(ix, **kwargs)
    return SegmentWriter(ix, **kwargs)


class _SubWriter(SubWriterTask):
    """Whoosh's writer process (one segment of its own, ``multisegment``), writing with
    ``_segment_writer``, reporting a failure to the parent instead of printing it, and dying
    with its parent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent = os.getpid()
        assert self.multisegment

    def run(self):
        die_with_parent(self.parent)
        try:
            ix = self.storage.open_index(self.indexname)
            writer = self.writer = _segment_writer(ix, _lk=False, **self.kwargs)
            while True:
                job = self.jobqueue.get()
                if job is None:
                    break
                self._process_file(*job)
            segment = writer._finalize_segment()
            self.resultqueue.put((None, writer.pool.fieldnames, segment), timeout=5)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
            code = exc.errno if isinstance(exc, OSError) else None
            message = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                       else f"{type(exc).__name__}: {exc}")
            self.resultqueue.put(("error", code, message), timeout=5)


class _ParallelWriter(MpWriter):
    """Whoosh's ``MpWriter`` (documents analysed and written by sub-processes, one segment each,
    while the parent merges older segments), made safe to lose a process: whoosh3 3.54 commits
    without the segment of a sub-process that failed, silently dropping its documents. Here a
    batch whose sub-processes did not all report a segment is not committed at all."""

    def _new_task(self):
        task = _SubWriter(self.storage, self.indexname, self.jobqueue, self.resultqueue,
                          self.subargs, self.multisegment)
        self.tasks.append(task)
        with forking():
            task.start()
        return task

    def _commit(self, mergetype, optimize, merge):
        if self.docbuffer:
            self._enqueue()
        for _ in self.tasks:
            self.jobqueue.put(None)
        finalsegments = self._merge_segments(mergetype, optimize, merge)
        for task in self.tasks:
            task.join()
        results = []
        for _ in self.tasks:
            try:
                results.append(self.resultqueue.get(timeout=5))
            except queue.Empty:
                break
        failures = [r for r in results if r[0] == "error"]
        if failures or len(results) != len(self.tasks):
            code, message = (failures[0][1], failures[0][2]) if failures else \
                (errno.EIO, "a writer process stopped without finishing")
            raise OSError(code or errno.EIO, message)
        finalsegments += [segment for _, _, segment in results]
        if self._added:
            finalsegments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(finalsegments)
        self._finish()
