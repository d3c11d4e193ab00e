"""Stories in a Whoosh index: what the shared ``search.story_keeper.StoryKeeper`` reads of the
articles stored (``IndexStored``: a searcher and the band store), and the band keys that find
an article's possible versions (``BandStore``). Each article document holds its story's id
(the lead's article id) and its similarity to the lead.

The band keys and sketches live beside the index in *runs* of numpy files (``<index
name>_story-bands-<n>.*``, removed with the index's files): each batch adds a run (its keys
sorted), and a batch's keys are looked up in every run at once with ``searchsorted``; a later
run's row for an article hides the earlier ones, and the runs are merged into one when there
are more than ``BandStore.MAX_RUNS``. (Looking the keys up in every Whoosh segment would cost a
millisecond an article at 200,000 articles; an SQLite table cost a fifth of the ingest.) A run
is written before the batch's Whoosh commit and a delete's after it, so a killed ingest can
leave keys of articles the index does not hold: a key found for an article that is not there
is ignored, and the next run writes the article again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re

import numpy as np
from collections.abc import Iterable
from pathlib import Path

from search.schema import article_to_doc, doc_to_article
from search.stories import (_EMPTY, BANDS, MAX_BAND_HOLDERS, NUM_PERM, SKETCHES, Version,
                            band_keys)
from search.story_keeper import UNDATED, Stored, StoryKeeper, day_numbers, version_of

log = logging.getLogger(__name__)

# never matched by Whoosh's segment file pattern; the number is the sketches' own version
# (``search.stories.SKETCHES``): runs of another are not read but made again
RUN_INFIX = f"_story-bands-v{SKETCHES}-"
_ARRAYS = ("kind", "sigs", "days", "keys", "rows")
SIGNED, UNSIGNED, REMOVED = 1, 0, 2  # a run's row: an article with a sketch, without, deleted


def keeps_stories(schema) -> bool:
    return "story" in schema


class _Run:
    """One run: ``ids`` (its rows' article ids), ``kind`` (``SIGNED``...), ``sigs`` (a
    signature a row), ``days`` (each article's date as a day number), ``keys`` (every band
    key of its signed rows, sorted) and ``rows`` (the row of each key); ``counts``: the rows
    no later run hides (and not removed); ``alive``: those of them with a signature."""

    PER_BUCKET = 2

    def __init__(self, seq: int, ids: list[str], arrays: dict[str, np.ndarray]):
        self.seq = seq
        self.ids = ids
        self.kind, self.sigs, self.days, self.keys, self.rows = (arrays[a] for a in _ARRAYS)
        self.counts = np.asarray(self.kind) != REMOVED
        self.alive = np.asarray(self.kind) == SIGNED
        self.merged = False  # (a prepared run) made of every earlier run's rows and its own

    _buckets: tuple[int, np.ndarray] | None = None

    def buckets(self) -> tuple[int, np.ndarray]:
        """(shift, starts): the keys whose top bits (``key >> shift``) are ``b`` are
        ``keys[starts[b]:starts[b + 1]]``, ``PER_BUCKET`` on average (keys are uniform
        hashes)."""
        if self._buckets is None:
            bits = int(np.clip(np.ceil(np.log2(max(len(self.keys), 1) / self.PER_BUCKET)),
                               4, 28))
            shift = 64 - bits
            sizes = np.bincount((np.asarray(self.keys) >> np.uint64(shift)).astype(np.int64),
                                minlength=1 << bits)
            self._buckets = (shift, np.concatenate([[0], np.cumsum(sizes)]).astype(
                np.int32 if len(self.keys) < 2**31 else np.int64))
        return self._buckets

    @staticmethod
    def paths(directory: Path, name: str, seq: int) -> dict[str, Path]:
        stem = f"{name}{RUN_INFIX}{seq:06d}"
        return {a: directory / f"{stem}.{a}.npy" for a in _ARRAYS} | {
            "ids": directory / f"{stem}.ids.json"}

    @classmethod
    def make(cls, seq: int, ids: list[str], kind: np.ndarray, sigs: np.ndarray,
             days: np.ndarray) -> _Run:
        signed = np.flatnonzero(kind == SIGNED)
        keys = band_keys(sigs[signed]).ravel()
        rows = np.repeat(signed.astype(np.uint32), BANDS)
        order = np.argsort(keys)
        return cls(seq, ids, {"kind": kind, "sigs": sigs, "days": days, "keys": keys[order],
                              "rows": rows[order]})

    def save(self, directory: Path, name: str) -> None:
        """Each array to a file of its own, each written under a temporary name first; the
        ids last: a run without its ids file is not there."""
        paths = self.paths(directory, name, self.seq)
        for a in _ARRAYS:
            tmp = paths[a].with_name(paths[a].name + ".tmp")
            with open(tmp, "wb") as f:
                np.save(f, getattr(self, a))
            os.replace(tmp, paths[a])
        tmp = paths["ids"].with_name(paths["ids"].name + ".tmp")
        tmp.write_text(json.dumps(self.ids))
        os.replace(tmp, paths["ids"])

    @classmethod
    def load(cls, directory: Path, name: str, seq: int) -> _Run:
        paths = cls.paths(directory, name, seq)
        ids = json.loads(paths["ids"].read_text())
        arrays = {a: np.load(paths[a], mmap_mode="r") for a in _ARRAYS}
        return cls(seq, ids, arrays)


_ROW = (1 << 32) - 1  # (BandStore.where: the row of run << 32 | row)


def _merge_sorted(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(keys, rows) pairs of arrays, each sorted by its keys, as one such pair: the two
    shortest merged first, each shorter one put in place in the longer by a binary search."""
    parts = sorted(parts, key=lambda p: len(p[0]))
    while len(parts) > 1:
        (short_keys, short_rows), (keys, rows) = parts[0], parts[1]
        at = np.searchsorted(keys, short_keys) + np.arange(len(short_keys))
        others = np.ones(len(keys) + len(short_keys), dtype=bool)
        others[at] = False
        merged_keys = np.empty(len(others), dtype=keys.dtype)
        merged_rows = np.empty(len(others), dtype=rows.dtype)
        merged_keys[at], merged_rows[at] = short_keys, short_rows
        merged_keys[others], merged_rows[others] = keys, rows
        parts = sorted([(merged_keys, merged_rows), *parts[2:]], key=lambda p: len(p[0]))
    return parts[0]


class BandStore:
    """The band keys and sketches of an index's articles, in runs (see the module's text)."""

    MAX_RUNS = 4

    def __init__(self, directory: Path, name: str):
        self.directory = Path(directory)
        self.name = name
        # segment: the hashes of its ids, sorted (``IndexStored._locate``)
        self.segment_ids: dict[str, np.ndarray] = {}
        pattern = re.compile(rf"^{re.escape(name)}{RUN_INFIX}(\d+)\.(\w+)\.(npy|json)(\.tmp)?$")
        # what earlier versions kept: an SQLite table, runs of other sketches
        other = re.compile(rf"^{re.escape(name)}_story-bands(\.sqlite|-)")
        complete, seen = set(), set()
        for f in os.listdir(self.directory):
            m = pattern.match(f)
            if m is None:
                if other.match(f):
                    with contextlib.suppress(FileNotFoundError):
                        (self.directory / f).unlink()
                continue
            seen.add(int(m.group(1)))
            if m.group(2) == "ids" and not m.group(4):
                complete.add(int(m.group(1)))
        for seq in seen - complete:  # a run a killed ingest did not finish, or half removed
            self._delete(seq)
        self.missing = not complete
        self._next_seq = max(seen, default=0) + 1
        self.runs: list[_Run] = []
        # id: the run and row of the row that counts, as run << 32 | row (an int: a tuple
        # for each of 200,000 articles made every full collection of the ingest's garbage
        # collector look at them, about 2 s in all)
        self.where: dict[str, int] = {}
        try:
            for seq in sorted(complete):
                self._add(_Run.load(self.directory, name, seq))
        except (OSError, ValueError) as exc:
            # a run that cannot be read: the runs are made again from the stored articles
            log.warning("the story band store of %s could not be read (%s): making it again",
                        name, exc)
            for seq in complete:
                self._delete(seq)
            self.runs, self.where, self.missing = [], {}, True

    def _delete(self, seq: int) -> None:
        """Remove a run's files, its ids first: a run without them is not there, so a kill
        part way leaves nothing that counts (the next open removes the rest)."""
        paths = _Run.paths(self.directory, self.name, seq)
        for key in ("ids", *_ARRAYS):
            for path in (paths[key], paths[key].with_name(paths[key].name + ".tmp")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def close(self) -> None:
        self.runs = []
        self.where = {}

    def _add(self, run: _Run) -> None:
        """Take ``run`` in: its rows hide the earlier rows of their articles."""
        r = len(self.runs)
        self.runs.append(run)
        where, runs = self.where, self.runs
        for row, (article_id, kind) in enumerate(zip(run.ids, np.asarray(run.kind).tolist())):
            old = where.get(article_id)
            if old is not None:
                runs[old >> 32].alive[old & _ROW] = False
                runs[old >> 32].counts[old & _ROW] = False
            if kind == REMOVED:
                where.pop(article_id, None)
            else:
                where[article_id] = r << 32 | row

    def prepare(self, versions: Iterable[Version]) -> _Run:
        """The run storing each of ``versions``' signature (none for an article without
        words), its bands and its date, in place of what was stored for it: written to disk,
        but not seen (by ``holders``, ``where``...) until ``take``. It reads the store and
        changes nothing in it, so it may run in a thread while the store is read (the ingest
        makes it while it looks for the batch's candidates)."""
        versions = list({v.id: v for v in versions}.values())
        kind = np.array([SIGNED if len(v.signature) else UNSIGNED for v in versions],
                        dtype=np.uint8)
        sigs = np.zeros((len(versions), NUM_PERM), dtype=np.uint32)
        signed = np.flatnonzero(kind == SIGNED)
        if len(signed):
            sigs[signed] = np.stack([versions[k].signature for k in signed.tolist()])
        return self._prepared([v.id for v in versions], kind, sigs, day_numbers(versions))

    def take(self, run: _Run | None) -> None:
        """Let a prepared run be seen: its rows hide the earlier rows of their articles (a
        merged run hides every earlier run, whose files are then removed)."""
        if run is None:
            return
        if run.merged:
            old = [r.seq for r in self.runs]
            self.runs, self.where = [], {}
            for s in old:  # the merged run hides them: a kill before all are gone loses nothing
                self._delete(s)
            # read from its files, as the runs opened are (a merged run can be large)
            loaded = _Run.load(self.directory, self.name, run.seq)
            loaded._buckets = run._buckets
            run = loaded
        self._add(run)

    def replace(self, versions: Iterable[Version]) -> None:
        """``prepare`` and ``take`` the run of ``versions``."""
        versions = list(versions)
        if versions:
            self.take(self.prepare(versions))

    def remove(self, ids: Iterable[str]) -> None:
        ids = [i for i in dict.fromkeys(ids) if i in self.where]
        if ids:
            self.take(self._prepared(ids, np.full(len(ids), REMOVED, dtype=np.uint8),
                                     np.zeros((len(ids), NUM_PERM), dtype=np.uint32),
                                     np.full(len(ids), UNDATED, dtype=np.int32)))

    def _prepared(self, ids: list[str], kind: np.ndarray, sigs: np.ndarray,
                  days: np.ndarray) -> _Run:
        """The run of these rows, saved: merged with every run that counts when there would
        be more than ``MAX_RUNS``."""
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        run = _Run.make(seq, ids, kind, sigs, days)
        if len(self.runs) >= self.MAX_RUNS:
            run = self._merged(run)
            run.merged = True
        run.buckets()
        try:
            run.save(self.directory, self.name)
        except OSError as exc:
            raise OSError(exc.errno, f"{exc.strerror or exc} (the story band store "
                                     f"{self.name}{RUN_INFIX}{seq:06d})") from exc
        return run

    def _merged(self, run: _Run) -> _Run:
        """One run of the rows that count of every run (but those ``run`` holds again), then
        ``run``'s rows, without the removed ones. The runs' keys are sorted already: they are
        kept (rows numbered again) and merged, not made and sorted again."""
        keep = [r.counts.copy() for r in self.runs] + [np.asarray(run.kind) != REMOVED]
        for article_id in run.ids:
            found = self.where.get(article_id)
            if found is not None:
                keep[found >> 32][found & _ROW] = False
        ids: list[str] = []
        kinds, sigs, days, parts = [], [], [], []
        for r, kept in zip([*self.runs, run], keep):
            rows = np.flatnonzero(kept)
            renumbered = np.zeros(len(r.ids), dtype=np.uint32)
            renumbered[rows] = np.arange(len(ids), len(ids) + len(rows), dtype=np.uint32)
            ids += [r.ids[k] for k in rows.tolist()]
            kinds.append(np.asarray(r.kind)[rows])
            sigs.append(np.asarray(r.sigs)[rows])
            days.append(np.asarray(r.days)[rows])
            key_rows = np.asarray(r.rows)
            held = np.flatnonzero(kept[key_rows])
            parts.append((np.asarray(r.keys)[held], renumbered[key_rows[held]]))
        keys, rows = _merge_sorted(parts)
        return _Run(run.seq, ids, {"kind": np.concatenate(kinds), "sigs": np.concatenate(sigs),
                                   "days": np.concatenate(days), "keys": keys, "rows": rows})

    def holders(self, keys: np.ndarray, limit: int = MAX_BAND_HOLDERS) -> list[tuple]:
        """The stored articles holding each of ``keys`` (band keys) that no more than
        ``limit`` articles hold: a list of (positions in ``keys``, the run, the holders' rows
        in it), one for each run with any."""
        keys = np.asarray(keys, dtype=np.uint64)
        found = []
        for run in self.runs:
            if not len(run.keys):
                continue
            # each key compared with the few of its bucket, all at once
            shift, starts = run.buckets()
            bucket = (keys >> np.uint64(shift)).astype(np.int64)
            lo = starts[bucket]
            n = starts[bucket + 1] - lo
            sel = np.flatnonzero(n)
            counts = n[sel]
            entries = np.repeat(lo[sel] - (np.cumsum(counts) - counts), counts) + np.arange(
                int(counts.sum()))
            q = np.repeat(sel, counts)
            same = np.asarray(run.keys[entries]) == keys[q]
            q = q[same]
            rows = np.asarray(run.rows[entries[same]], dtype=np.int64)
            ok = run.alive[rows]
            if ok.any():
                found.append((q[ok], run, rows[ok]))
        if not found:
            return []
        held = np.bincount(np.concatenate([q for q, _, _ in found]), minlength=len(keys))
        out = []
        for q, run, rows in found:
            keep = held[q] <= limit
            if keep.any():
                out.append((q[keep], run, rows[keep]))
        return out

    def signature(self, article_id: str) -> np.ndarray | None:
        """The stored article's signature (``_EMPTY`` without words); None if it has no row."""
        found = self.where.get(article_id)
        if found is None:
            return None
        run, row = self.runs[found >> 32], found & _ROW
        return np.array(run.sigs[row]) if run.kind[row] == SIGNED else _EMPTY

    def count(self) -> int:
        """Articles stored with a sketch."""
        return sum(1 for at in self.where.values()
                   if self.runs[at >> 32].kind[at & _ROW] == SIGNED)


class IndexStored:
    """What ``StoryKeeper.plan`` reads of the articles stored (the Whoosh engine's: a
    searcher, and the band store beside the index). Another engine gives the same methods
    (``search.engines.xapian.stories``)."""

    def __init__(self, keeper: "StoryKeeper", searcher):
        self.keeper, self.searcher = keeper, searcher

    def stored(self, ids: Iterable[str]) -> dict[str, Stored]:
        """Those of ``ids`` the index holds (every stored article has its row in the band
        store, which may hold more)."""
        bands, searcher = self.keeper.bands, self.searcher
        ids = {i for i in ids if i in bands.where}
        located = self._locate(ids)
        out = {}
        for article_id in ids:
            docnum = located.get(article_id)
            if docnum is None:
                docnum = searcher.document_number(id=article_id)
            if docnum is None:
                continue
            fields = searcher.stored_fields(docnum)
            article = doc_to_article(fields)
            # its signature as stored (the same as made again: runs of another sketch
            # version are made again); its shingles made if it is compared
            signature = bands.signature(article_id)
            version = version_of(article) if signature is None else Version(
                article.id, article.date, None, signature, (article.headline, article.body))
            out[article_id] = Stored(fields, fields.get("story"),
                                     tuple(fields.get("story_similarity") or ()),
                                     version)
        return out

    def _locate(self, ids: set[str]) -> dict[str, int]:
        """The document numbers of those of ``ids`` the index holds, as
        ``searcher.document_number(id=...)`` gives them, looked up only in the segments
        whose ``id`` terms hold the id's hash (Whoosh looks a term up in every segment: at
        200,000 articles, 20 segments, a third of a millisecond an article). The hashes of a
        segment's ids are read once per ingest (kept by the band store): segments do not change while it runs."""
        if not ids:
            return {}
        from whoosh.reading import TermNotFound

        ids = sorted(ids)
        wanted = np.array([hash(i) for i in ids], dtype=np.int64)
        out: dict[str, int] = {}
        seen = set()
        cache = self.keeper.bands.segment_ids
        for leaf, offset in self.searcher.reader().leaf_readers():
            segment = leaf.segment()
            key = segment.segment_id() if segment is not None else None
            hashes = cache.get(key) if key is not None else None
            if hashes is None:
                hashes = np.sort(np.fromiter((hash(t) for t in leaf.field_terms("id")),
                                             dtype=np.int64))
                if key is not None:
                    cache[key] = hashes
            seen.add(key)
            pos = np.minimum(np.searchsorted(hashes, wanted), max(len(hashes) - 1, 0))
            for k in np.flatnonzero(hashes[pos] == wanted).tolist() if len(hashes) else ():
                if ids[k] in out:
                    continue
                try:
                    out[ids[k]] = offset + leaf.first_id("id", ids[k])
                except (KeyError, TermNotFound):  # a hash's other id, or a deleted document
                    pass
        for key in set(cache) - seen:  # merged away
            del cache[key]
        return out

    def members(self, story_id: str) -> list[str]:
        searcher = self.searcher
        return [searcher.stored_fields(d)["id"]
                for d in searcher.document_numbers(story=story_id)]

    def holders(self, keys: np.ndarray) -> list[tuple]:
        return self.keeper.bands.holders(keys)

    def rewrite(self, s: Stored, story: tuple[str, tuple[float, float]]) -> dict:
        """The stored article's document, with ``story`` (its text, fingerprint and names as
        found kept)."""
        fields = s.record
        doc = article_to_doc(doc_to_article(fields), fields.get("fingerprint"), story)
        if fields.get("names_found"):  # (the "aliased" term is not stored: it goes with them)
            doc["aliased"] = "1"
            doc["names_found"] = fields["names_found"]
        return doc
