"""Stories as the index keeps them: each article's ``story`` field, kept right as articles come
and go (``StoryKeeper``), and the band keys that find an article's possible versions
(``BandStore``).

Each article document holds its story's id (the lead's article id) and its similarity to the
lead. When a batch is written, ``StoryKeeper.plan`` works out the story of every article of
the batch and which stored articles change story with it (a new earlier version becomes the
lead; an update or a delete can split a story): those are written again in the same commit,
with their stored fields unchanged. Stories follow the edges of ``search.stories``, so any
order of ingests, and a rebuild, give the same grouping.

The band keys live in an SQLite table beside the index (``<index name>_story-bands.sqlite``,
removed with the index's files): a batch's keys are looked up in one join, where looking each
up in every Whoosh segment would cost a millisecond an article at 200,000 articles. The table
is written before the batch's Whoosh commit and cleaned after a delete's, so a killed ingest
can leave keys of articles the index does not hold: a key found for an article that is not
there is ignored, and the next run writes the article again.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sqlite3

import numpy as np
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from search.models import Article
from search.schema import article_to_doc, doc_to_article
from search.stories import (MAX_BAND_HOLDERS, MAX_COMPARED, MIN_ESTIMATE, Groups, Version,
                            article_sketch, bands_of, lead_key, same_story, similarity)

log = logging.getLogger(__name__)

BANDS_SUFFIX = "_story-bands.sqlite"  # never matched by Whoosh's segment file pattern


def keeps_stories(schema) -> bool:
    return "story" in schema


def bands_path(directory: Path, index_name: str) -> Path:
    return Path(directory) / f"{index_name}{BANDS_SUFFIX}"


class BandStore:
    """(band key, article id) pairs in SQLite."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS bands (band INTEGER NOT NULL, "
                        "id TEXT NOT NULL, PRIMARY KEY (band, id)) WITHOUT ROWID")
        self.db.execute("CREATE INDEX IF NOT EXISTS bands_of_id ON bands (id)")
        self.db.execute("CREATE TABLE IF NOT EXISTS sketches (id TEXT PRIMARY KEY, "
                        "signature BLOB NOT NULL) WITHOUT ROWID")

    def close(self) -> None:
        self.db.close()

    def _fill(self, table: str, column: str, values: Iterable) -> int:
        """A temporary one-column table ``table`` holding ``values`` (each once), to join
        with; returns how many."""
        wanted = sorted(set(values))
        db = self.db
        db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({column} PRIMARY KEY)")
        db.execute(f"DELETE FROM {table}")
        db.executemany(f"INSERT INTO {table} VALUES (?)", ((v,) for v in wanted))
        return len(wanted)

    def holders(self, bands: Iterable[int], limit: int = MAX_BAND_HOLDERS) \
            -> dict[int, list[str]]:
        """{band: ids of the articles stored with it} for the bands that have any, and no more
        than ``limit``."""
        if not self._fill("wanted", "band INTEGER", bands):
            return {}
        found: dict[int, list[str]] = {}
        for band, article in self.db.execute(
                "SELECT bands.band, bands.id FROM bands JOIN ("
                "  SELECT wanted.band AS band FROM wanted JOIN bands ON bands.band = wanted.band"
                "  GROUP BY wanted.band HAVING COUNT(*) <= ?) small ON bands.band = small.band",
                (limit,)):
            found.setdefault(band, []).append(article)
        return found

    def signatures(self, ids: Iterable[str]) -> dict[str, bytes]:
        """{id: MinHash signature} of the stored articles among ``ids``."""
        if not self._fill("wanted_ids", "id TEXT", ids):
            return {}
        return dict(self.db.execute("SELECT sketches.id, sketches.signature FROM wanted_ids "
                               "JOIN sketches ON sketches.id = wanted_ids.id"))

    def replace(self, rows: dict[str, bytes]) -> None:
        """Store each article's signature and bands in place of what was stored for it."""
        def write(db):
            db.executemany("DELETE FROM bands WHERE id = ?", ((i,) for i in rows))
            db.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)",
                           ((b, i) for i, sig in rows.items() for b in bands_of(sig)))
            db.executemany("INSERT OR REPLACE INTO sketches VALUES (?, ?)",
                           ((i, sig) for i, sig in rows.items()))

        self._transaction(write)

    def _transaction(self, work) -> None:
        """Run ``work(db)`` in one transaction; a failure (a full disk) is an ``OSError``
        naming the table's file, after the transaction is rolled back."""
        db = self.db
        try:
            db.execute("BEGIN")
            work(db)
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise OSError(errno.EIO, f"{exc} (the story band table {self.path.name})") from exc
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise

    def remove(self, ids: Iterable[str]) -> None:
        ids = list(ids)

        def write(db):
            db.executemany("DELETE FROM bands WHERE id = ?", ((i,) for i in ids))
            db.executemany("DELETE FROM sketches WHERE id = ?", ((i,) for i in ids))

        self._transaction(write)

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(DISTINCT id) FROM bands").fetchone()[0]


@dataclass
class _Stored:
    """An article as stored, with what the grouping needs of it."""

    fields: dict
    version: Version

    @property
    def story(self) -> str:
        return self.fields.get("story") or self.version.id


@dataclass
class Plan:
    """What a batch (or a delete) does to stories."""

    story: dict[str, tuple[str, tuple[float, float]]] = field(default_factory=dict)  # batch
    rewrites: list[dict] = field(default_factory=list)  # stored articles' documents, again
    signatures: dict[str, bytes] = field(default_factory=dict)  # to store for the batch


def version_of(article: Article) -> Version:
    return _version(article.id, article.date, article.headline, article.body)


def _version(article_id: str, date, headline: str, body: str) -> Version:
    hashes, signature = article_sketch(headline, body)
    return Version(article_id, date, hashes, signature)


def _most_alike(signature: bytes, ids: list[str], signatures: dict[str, bytes]) -> list[str]:
    """Of ``ids`` (sorted), those whose sketches agree with ``signature`` on ``MIN_ESTIMATE``
    of their values or more, the most alike first (then by id), at most ``MAX_COMPARED``."""
    if not signature:
        return []
    known = [i for i in ids if len(signatures.get(i, b"")) == len(signature)]
    if not known:
        return []
    mine = np.frombuffer(signature, dtype="<u4")
    theirs = np.frombuffer(b"".join([signatures[i] for i in known]), dtype="<u4")
    agree = np.count_nonzero(theirs.reshape(len(known), len(mine)) == mine, axis=1)
    kept = np.flatnonzero(agree >= MIN_ESTIMATE * len(mine))
    # most alike first; equal ones in id order (``known`` is sorted, and the sort is stable)
    kept = kept[np.argsort(-agree[kept], kind="stable")][:MAX_COMPARED]
    return [known[k] for k in kept.tolist()]


def _versions(articles: list[tuple[str, object, str, str]]) -> list[Version]:
    """``version_of`` for (id, date, headline, body) tuples (a task of the sketch pool)."""
    return [_version(*row) for row in articles]


_STORY = "\0story:"  # the node of a whole stored story that no version of the batch leaves


class StoryKeeper:
    """Plans the stories of batches against one index (read through ``searcher``). A batch's
    shingles and sketches are made on ``processes`` processes (a pool started on first use,
    dying with the ingest)."""

    PARALLEL_FROM = 500  # articles in a batch
    TASK = 250

    def __init__(self, bands: BandStore, processes: int = 1):
        self.bands = bands
        self.processes = processes
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self.bands.close()

    def versions(self, articles: list[Article]) -> dict[str, Version]:
        rows = [(a.id, a.date, a.headline, a.body) for a in articles]
        if self.processes < 2 or len(rows) < self.PARALLEL_FROM:
            return {v.id: v for v in _versions(rows)}
        if self._pool is None:
            import multiprocessing
            import os

            from search.proc import die_with_parent

            self._pool = multiprocessing.get_context("fork").Pool(
                self.processes, initializer=die_with_parent, initargs=(os.getpid(),))
        tasks = [rows[i:i + self.TASK] for i in range(0, len(rows), self.TASK)]
        return {v.id: v for part in self._pool.imap(_versions, tasks) for v in part}

    def plan(self, searcher, batch: list[tuple[Article, str]], removed: Iterable[str] = ()) \
            -> Plan:
        """The stories of ``batch`` ((article, fingerprint) pairs, new or changed) and of the
        stored articles they touch; ``removed`` ids are being deleted."""
        loaded: dict[str, _Stored | None] = {}

        def stored(article_id: str) -> _Stored | None:
            if article_id not in loaded:
                docnum = searcher.document_number(id=article_id)
                if docnum is None:
                    loaded[article_id] = None
                else:
                    fields = searcher.stored_fields(docnum)
                    loaded[article_id] = _Stored(fields, version_of(doc_to_article(fields)))
            return loaded[article_id]

        def members(story_id: str) -> list[str]:
            ids = []
            for docnum in searcher.document_numbers(story=story_id):
                fields = searcher.stored_fields(docnum)
                ids.append(fields["id"])
            return ids

        new = self.versions([a for a, _ in batch])
        gone = set(removed) | set(new)  # stored versions being replaced or deleted
        plan = Plan(signatures={i: v.signature for i, v in new.items()})
        # stories losing a version are worked out again from their other members
        broken: set[str] = set()
        for article_id in gone:
            s = stored(article_id)
            if s is not None:
                broken.add(s.story)
        groups = Groups()

        def node(article_id: str) -> str:
            """A stored article's node: itself in a broken story, else its whole story."""
            s = stored(article_id)
            key = article_id if s.story in broken else _STORY + s.story
            groups.add(key)
            return key

        for i in new:
            groups.add(i)
        # the batch's own pairs, and its pairs with stored articles, by shared band
        by_band: dict[int, list[str]] = {}
        for i, v in new.items():
            for b in v.bands:
                by_band.setdefault(b, []).append(i)
        holders = self.bands.holders(by_band)
        signatures = self.bands.signatures(c for ids in holders.values() for c in ids)
        signatures.update((i, v.signature) for i, v in new.items())
        candidates: dict[str, set[str]] = {i: set() for i in new}
        for b, ids in by_band.items():
            stored_ids = [c for c in holders.get(b, ()) if c not in gone]
            for a in ids:
                if len(ids) <= MAX_BAND_HOLDERS:
                    candidates[a].update(ids)
                candidates[a].update(stored_ids)
        compared: set[tuple[str, str]] = set()
        for a, found in candidates.items():
            found.discard(a)
            # the sketches first, all at once: most articles sharing a band are not versions
            for c in _most_alike(new[a].signature, sorted(found), signatures):
                pair = (a, c) if a < c else (c, a)
                if pair in compared:
                    continue
                compared.add(pair)
                if c in new:
                    if same_story(new[a], new[c]):
                        groups.union(a, c)
                    continue
                s = stored(c)
                if s is not None and same_story(new[a], s.version):
                    groups.union(a, node(c))
        # the other members of broken stories, and the edges among them
        for story_id in broken:
            ids = [i for i in members(story_id) if i not in gone]
            for i in ids:
                node(i)
            for k, a in enumerate(ids):
                for c in ids[k + 1:]:
                    if same_story(stored(a).version, stored(c).version):
                        groups.union(a, c)
        # each group: its lead, and every member's story and similarity
        for keys in groups.groups():
            ids = [k for k in keys if not k.startswith(_STORY)]
            whole = [k[len(_STORY):] for k in keys if k.startswith(_STORY)]
            versions = {i: new[i] if i in new else stored(i).version for i in ids}
            # an untouched story's lead is its id: the group's lead is the earliest of those
            # and of the other versions
            lead = min([*versions.values(), *(stored(sid).version for sid in whole)],
                       key=lead_key)
            for sid in whole:
                if sid != lead.id:  # the lead's own story keeps its story and similarities
                    versions.update((m, stored(m).version) for m in members(sid)
                                    if m not in gone)
            for i, v in versions.items():
                sim = similarity(v.shingles, lead.shingles)
                value = (lead.id, (round(sim.containment, 3), round(sim.jaccard, 3)))
                if i in new:
                    plan.story[i] = value
                    continue
                s = stored(i)
                before = (s.fields.get("story"), tuple(s.fields.get("story_similarity") or ()))
                if before != (value[0], value[1]):
                    article = doc_to_article(s.fields)
                    plan.rewrites.append(article_to_doc(article, s.fields.get("fingerprint"),
                                                        value))
        return plan
