"""Stories as the index keeps them: each article's ``story`` field, kept right as articles come
and go (``StoryKeeper``), and the band keys that find an article's possible versions
(``BandStore``).

Each article document holds its story's id (the lead's article id) and its similarity to the
lead. When a batch is written, ``StoryKeeper.plan`` works out the story of every article of
the batch and which stored articles change story with it (a new earlier version becomes the
lead; an update or a delete can split a story): those are written again in the same commit,
with their stored fields unchanged. It reads what is stored through a *source*: here
``IndexStored`` (a Whoosh searcher and the band store), on the cluster
``search.engines.xapian.stories.ShardStored`` (the same methods over the shards). Stories follow the edges of ``search.stories``, so any
order of ingests, and a rebuild, give the same grouping.

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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from search.models import Article
from search.schema import article_to_doc, doc_to_article
from search.stories import (_EMPTY, BANDS, MAX_BAND_HOLDERS, MAX_COMPARED, MAX_DAYS,
                            MIN_ESTIMATE, NUM_PERM, SKETCHES, Groups, Similarity, Version,
                            article_sketch, band_keys, lead_key, make_shingles, same_story,
                            signatures, similarity)

log = logging.getLogger(__name__)

# never matched by Whoosh's segment file pattern; the number is the sketches' own version
# (``search.stories.SKETCHES``): runs of another are not read but made again
RUN_INFIX = f"_story-bands-v{SKETCHES}-"
_ARRAYS = ("kind", "sigs", "days", "keys", "rows")
SIGNED, UNSIGNED, REMOVED = 1, 0, 2  # a run's row: an article with a sketch, without, deleted
UNDATED = -1  # the day of an undated article (days are proleptic Gregorian ordinals)


def keeps_stories(schema) -> bool:
    return "story" in schema


def day_numbers(versions: list[Version]) -> np.ndarray:
    return np.array([v.date.toordinal() if v.date else UNDATED for v in versions],
                    dtype=np.int32)


def close_days(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``search.stories.close_in_time`` on arrays of day numbers."""
    return (a == UNDATED) | (b == UNDATED) | (np.abs(a - b) <= MAX_DAYS)


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


@dataclass
class Stored:
    """A stored article, with what the grouping needs of it: its story (None: its own), its
    similarity to its lead, its version, and ``record``, what its engine rewrites it from."""

    record: object
    story_id: str | None
    similarity: tuple  # (containment, jaccard) as stored; () when not stored
    version: Version

    @property
    def story(self) -> str:
        return self.story_id or self.version.id


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
        located = self.keeper._locate(searcher, ids)
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


@dataclass
class Plan:
    """What a batch (or a delete) does to stories."""

    story: dict[str, tuple[str, tuple[float, float]]] = field(default_factory=dict)  # batch
    rewrites: list = field(default_factory=list)  # stored articles' documents, again
    # the leads of the stories of more than one version the batch makes or joins
    shared: set[str] = field(default_factory=set)
    versions: list[Version] = field(default_factory=list)  # the batch's, for the band store
    band_run: Future | None = None  # their run of the band store, being prepared

    def bands(self) -> _Run | None:
        """The batch's run of the band store, once prepared (for ``BandStore.take``)."""
        return self.band_run.result() if self.band_run is not None else None


def version_of(article: Article) -> Version:
    hashes, signature = article_sketch(article.headline, article.body)
    return Version(article.id, article.date, hashes, signature)


def _signatures(rows: list[tuple[str, object, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """``search.stories.signatures`` of (id, date, headline, body) rows (a task of the sketch
    pool: signatures are all that comes back)."""
    return signatures([(headline, body) for _, _, headline, body in rows])


def _sketcher(conn, parent: int) -> None:
    """A sketch process: it dies with the ingest (and leaves interrupts to it), has datasketch
    imported (with scipy, half a second) while the ingest reads, and sends back the
    signatures of each task it receives until it receives None."""
    import signal

    from search.proc import die_with_parent
    from search.stories import _permutations


    # an interrupt is the ingest's to handle (it stops this process)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    _permutations()
    while True:
        try:
            rows = conn.recv()
        except EOFError:
            return
        if rows is None:
            return
        conn.send(_signatures(rows))


class _Sketchers:
    """Processes making the signatures of the tasks (lists of rows) sent to them, each over a
    socket of its own, written by the ingest's own thread. (A ``multiprocessing.Pool``
    feeds its processes from a thread of the ingest: while the ingest read, its tasks reached
    the processes late, most only once the batch had been read, which then waited for them;
    a shorter thread switch interval did not help.) Results are read as tasks are sent, so that no socket
    fills up (a result is 64 KB, a socket holds three)."""

    def __init__(self, processes: int):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conns, self._procs = [], []
        for _ in range(processes):
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_sketcher, args=(there, os.getpid()), daemon=True)
            proc.start()
            there.close()
            self._conns.append(here)
            self._procs.append(proc)
        self._next = 0
        self._pending: list[list[int]] = [[] for _ in self._procs]  # tickets, in order
        self._results: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def submit(self, rows: list[tuple]) -> int:
        """Send a task; its ticket for ``result``."""
        ticket = self._next
        self._next += 1
        k = ticket % len(self._conns)
        self._drain(k)
        try:
            self._conns[k].send(rows)
        except OSError as exc:
            raise OSError(exc.errno, f"a sketch process stopped ({exc})") from exc
        self._pending[k].append(ticket)
        return ticket

    def _drain(self, k: int, until: int | None = None) -> None:
        """Read the results ready on process ``k`` (and wait for ``until``'s)."""
        conn, pending = self._conns[k], self._pending[k]
        while pending and ((until is not None and until in pending) or conn.poll()):
            try:
                self._results[pending[0]] = conn.recv()
            except EOFError:
                raise OSError("a sketch process stopped without finishing") from None
            pending.pop(0)

    def result(self, ticket: int) -> tuple[np.ndarray, np.ndarray]:
        if ticket not in self._results:
            self._drain(ticket % len(self._conns), until=ticket)
        return self._results.pop(ticket)

    def close(self) -> None:
        """Stop the processes at once: they hold nothing but their tasks."""
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            proc.join()
        for conn in self._conns:
            conn.close()
        self._conns, self._procs = [], []


def _made(rows: list[tuple], signatures: tuple[np.ndarray, np.ndarray]) -> list[Version]:
    sigs, signed = signatures
    # (rows of the array as a list, flags as Python bools: indexing either per article
    # costs more than making the Version)
    return [Version(row[0], row[1], None, sig if ok else _EMPTY, row[2:])
            for row, sig, ok in zip(rows, list(sigs), signed.tolist())]


_STORY = "\0story:"  # the node of a whole stored story that no version of the batch leaves


class StoryKeeper:
    """Plans the stories of batches against one index (read through ``searcher``). With
    ``processes`` > 1, articles' sketches are made on that many processes (``_Sketchers``,
    started on first use, dying with the ingest), as soon as the ingest reads them
    (``ahead``): while it reads and checks the rest of the batch, their work is done."""

    PARALLEL_FROM = 500  # articles in a batch
    TASK = 250

    def __init__(self, bands: BandStore | None, processes: int = 1):
        self.bands = bands
        self.processes = processes
        self._pool: _Sketchers | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._segment_ids: dict[str, np.ndarray] = {}  # segment: its ids' hashes, sorted
        self._reading: list[tuple] = []  # rows not yet sent to the pool
        self._sent: list[tuple[list[tuple], int]] = []  # (rows, their task's ticket)

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._sent, self._reading = [], []
        if self.bands is not None:
            self.bands.close()

    def _start(self) -> _Sketchers:
        if self._pool is None:
            self._pool = _Sketchers(self.processes)
        return self._pool

    def ahead(self, article: Article) -> None:
        """Start on the sketch of an article the next batch will likely write."""
        if self.processes < 2:
            return
        self._reading.append((article.id, article.date, article.headline, article.body))
        if len(self._reading) >= self.TASK:
            self._send()

    def _send(self) -> None:
        if self._reading:
            rows, self._reading = self._reading, []
            self._sent.append((rows, self._start().submit(rows)))

    def versions(self, articles: list[Article]) -> dict[str, Version]:
        rows = [(a.id, a.date, a.headline, a.body) for a in articles]
        done: dict[str, Version] = {}
        if self._sent or self._reading:
            self._send()
            made: dict[str, tuple[tuple, Version]] = {}
            for sent, ticket in self._sent:
                made.update((row[0], (row, v)) for row, v in zip(
                    sent, _made(sent, self._pool.result(ticket))))
            self._sent = []
            # a version made ahead counts if its article is the same (same objects, mostly:
            # the tuples' comparison of each is then by identity)
            for row in rows:
                ahead = made.get(row[0])
                if ahead is not None and ahead[0] == row:
                    done[row[0]] = ahead[1]
            rows = [row for row in rows if row[0] not in done]
        if self.processes < 2 or len(rows) < self.PARALLEL_FROM:
            done.update((v.id, v) for v in _made(rows, _signatures(rows)))
            return done
        tasks = [rows[i:i + self.TASK] for i in range(0, len(rows), self.TASK)]
        tickets = [self._start().submit(task) for task in tasks]
        done.update((v.id, v) for task, ticket in zip(tasks, tickets)
                    for v in _made(task, self._pool.result(ticket)))
        return done

    def _locate(self, searcher, ids: set[str]) -> dict[str, int]:
        """The document numbers of those of ``ids`` the index holds, as
        ``searcher.document_number(id=...)`` gives them, looked up only in the segments
        whose ``id`` terms hold the id's hash (Whoosh looks a term up in every segment: at
        200,000 articles, 20 segments, a third of a millisecond an article). The hashes of a
        segment's ids are read once per ingest: segments do not change while it runs."""
        if not ids:
            return {}
        from whoosh.reading import TermNotFound

        ids = sorted(ids)
        wanted = np.array([hash(i) for i in ids], dtype=np.int64)
        out: dict[str, int] = {}
        seen = set()
        for leaf, offset in searcher.reader().leaf_readers():
            segment = leaf.segment()
            key = segment.segment_id() if segment is not None else None
            hashes = self._segment_ids.get(key) if key is not None else None
            if hashes is None:
                hashes = np.sort(np.fromiter((hash(t) for t in leaf.field_terms("id")),
                                             dtype=np.int64))
                if key is not None:
                    self._segment_ids[key] = hashes
            seen.add(key)
            pos = np.minimum(np.searchsorted(hashes, wanted), max(len(hashes) - 1, 0))
            for k in np.flatnonzero(hashes[pos] == wanted).tolist() if len(hashes) else ():
                if ids[k] in out:
                    continue
                try:
                    out[ids[k]] = offset + leaf.first_id("id", ids[k])
                except (KeyError, TermNotFound):  # a hash's other id, or a deleted document
                    pass
        for key in set(self._segment_ids) - seen:  # merged away
            del self._segment_ids[key]
        return out

    def _candidates(self, source, new: dict[str, Version], gone: set[str]) \
            -> dict[str, list[str]]:
        """{id: the articles to compare it with} for the batch ``new``: the articles of the
        batch and the stored ones (but ``gone``) sharing a band with it, where no more than
        ``MAX_BAND_HOLDERS`` do, whose sketches agree with its own on ``MIN_ESTIMATE`` of
        their values or more, and whose dates are close: the most alike first (then by id), at
        most ``MAX_COMPARED``.
        Worked out on arrays, all the batch at once: most articles have none."""
        ids = [i for i, v in new.items() if len(v.signature)]
        if not ids:
            return {}
        sigs = np.stack([new[i].signature for i in ids])
        days = day_numbers([new[i] for i in ids])
        keys = band_keys(sigs).ravel()  # article k's bands at k * BANDS ...
        least = int(np.ceil(MIN_ESTIMATE * NUM_PERM))
        found: dict[int, list[tuple[int, str]]] = {}  # article: [(-agreement, id)]
        # the batch's pairs: articles holding one key, in groups of 2 to MAX_BAND_HOLDERS
        order = np.argsort(keys)
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
        sizes = np.diff(np.append(starts, len(keys)))
        small = (sizes >= 2) & (sizes <= MAX_BAND_HOLDERS)
        if small.any():
            # each position of a small group paired with every later one of its group
            ends = np.repeat(starts + sizes, sizes)
            positions = np.flatnonzero(np.repeat(small, sizes))
            later = ends[positions] - positions - 1
            first = np.repeat(positions, later)
            second = first + 1 + np.arange(int(later.sum())) - np.repeat(
                np.cumsum(later) - later, later)
            a = order[first] // BANDS
            b = order[second] // BANDS
            close = close_days(days[a], days[b])  # first: it leaves few
            pairs = np.unique(np.minimum(a[close], b[close]) * len(ids)
                              + np.maximum(a[close], b[close]))
            a, b = pairs // len(ids), pairs % len(ids)
            agree = np.count_nonzero(sigs[a] == sigs[b], axis=1)
            ok = agree >= least
            for x, y, n in zip(a[ok].tolist(), b[ok].tolist(), agree[ok].tolist()):
                found.setdefault(x, []).append((-n, ids[y]))
                found.setdefault(y, []).append((-n, ids[x]))
        # pairs with stored articles
        # (looked up in key order: each run's memory is then read along, not at random)
        for q, run, rows in source.holders(sorted_keys):
            a = order[q] // BANDS
            close = close_days(days[a], np.asarray(run.days)[rows])  # first: it leaves few
            pairs = np.unique(a[close] * len(run.ids) + rows[close])
            a, rows = pairs // len(run.ids), pairs % len(run.ids)
            agree = np.count_nonzero(sigs[a] == np.asarray(run.sigs[rows]), axis=1)
            ok = agree >= least
            for x, row, n in zip(a[ok].tolist(), rows[ok].tolist(), agree[ok].tolist()):
                other = run.ids[row]
                if other not in gone:
                    found.setdefault(x, []).append((-n, other))
        return {ids[x]: [c for _, c in sorted(set(items))[:MAX_COMPARED]]
                for x, items in found.items()}

    def plan(self, source, batch: list[tuple[Article, str]], removed: Iterable[str] = ()) \
            -> Plan:
        """The stories of ``batch`` ((article, fingerprint) pairs, new or changed) and of the
        stored articles they touch; ``removed`` ids are being deleted. ``source`` is what is
        stored: a Whoosh searcher (read through ``IndexStored``), or another engine's
        ``IndexStored`` equivalent."""
        if not hasattr(source, "holders"):
            source = IndexStored(self, source)
        loaded: dict[str, Stored | None] = {}

        def load(ids: Iterable[str]) -> None:
            ids = {i for i in ids if i not in loaded}
            if ids:
                found = source.stored(ids)
                for i in ids:
                    loaded[i] = found.get(i)

        def stored(article_id: str) -> Stored | None:
            if article_id not in loaded:
                load([article_id])
            return loaded[article_id]

        new = self.versions([a for a, _ in batch])
        gone = set(removed) | set(new)  # stored versions being replaced or deleted
        plan = Plan(versions=list(new.values()))
        if plan.versions and self.bands is not None:
            # the batch's run of the band store is made (numpy, disk) while this thread reads
            # the index
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="story-bands")
            plan.band_run = self._thread.submit(self.bands.prepare, plan.versions)
        # stories losing a version are worked out again from their other members
        broken: set[str] = set()
        load(gone)
        for article_id in gone:
            s = loaded[article_id]
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
        compared: set[tuple[str, str]] = set()
        candidates = self._candidates(source, new, gone)
        load(c for found in candidates.values() for c in found if c not in new)
        # the shingles of every version to be compared, made together
        make_shingles([new[a] for a in candidates] + [
            new[c] if c in new else s.version for found in candidates.values() for c in found
            if c in new or (s := stored(c)) is not None])
        for a, found in candidates.items():
            for c in found:
                pair = (a, c) if a < c else (c, a)
                if pair in compared:
                    continue
                compared.add(pair)
                # (a candidate shares a band with the article: it was found by it)
                if c in new:
                    if same_story(new[a], new[c], share_band=True):
                        groups.union(a, c)
                    continue
                s = stored(c)
                if s is not None and same_story(new[a], s.version, share_band=True):
                    groups.union(a, node(c))
        # the other members of broken stories, and the edges among them
        story_members: dict[str, list[str]] = {}

        def members(story_id: str) -> list[str]:
            if story_id not in story_members:
                story_members[story_id] = source.members(story_id)
                load(story_members[story_id])
            return story_members[story_id]

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
            if len(keys) == 1 and keys[0] in new:  # most: a new article, a story of its own
                # (as below: its own lead's equal, but an article without words)
                plan.story[keys[0]] = (keys[0], (1.0, 1.0) if len(new[keys[0]].signature)
                                       else (0.0, 0.0))
                continue
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
            if len(ids) + len(whole) > 1:
                plan.shared.add(lead.id)
            for i, v in versions.items():
                # a version is its own lead's equal (the text of most is never read again)
                sim = similarity(v.shingles, lead.shingles) if v is not lead \
                    or not len(v.signature) else Similarity(1.0, 1.0)
                value = (lead.id, (round(sim.containment, 3), round(sim.jaccard, 3)))
                if i in new:
                    plan.story[i] = value
                    continue
                s = stored(i)
                if (s.story_id, tuple(s.similarity)) != (value[0], value[1]):
                    plan.rewrites.append(source.rewrite(s, value))
        return plan
