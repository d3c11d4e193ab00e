"""Stories as an archive keeps them, on either engine: each article's story (the lead's article
id) and its similarity to the lead, kept right as articles come and go (``StoryKeeper``).

When a batch is written, ``StoryKeeper.plan`` works out the story of every article of the batch
and which stored articles change story with it (a new earlier version becomes the lead; an
update or a delete can split a story): those are written again in the same commit, with their
stored fields unchanged. It reads what is stored through a *source* with four methods
(``stored``, ``members``, ``holders``, ``rewrite``): the Whoosh engine's
``search.engines.whoosh.story_index.IndexStored`` (a searcher and its band store), the Xapian
engine's ``search.engines.xapian.stories.ShardStored`` (the same over the shards). Stories
follow the edges of ``search.stories``, so any order of ingests, and a rebuild, give the same
grouping. The sketches of a batch are made in processes of their own (``_Sketchers``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from search.models import Article
from search.stories import (_EMPTY, BANDS, MAX_BAND_HOLDERS, MAX_COMPARED, MAX_DAYS,
                            MIN_ESTIMATE, NUM_PERM, Groups, Similarity, Version, article_sketch,
                            band_keys, lead_key, make_shingles, same_story, signatures,
                            similarity)


UNDATED = -1  # the day of an undated article (days are proleptic Gregorian ordinals)


def day_numbers(versions: list[Version]) -> np.ndarray:
    return np.array([v.date.toordinal() if v.date else UNDATED for v in versions],
                    dtype=np.int32)


def close_days(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``search.stories.close_in_time`` on arrays of day numbers."""
    return (a == UNDATED) | (b == UNDATED) | (np.abs(a - b) <= MAX_DAYS)


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


@dataclass
class Plan:
    """What a batch (or a delete) does to stories."""

    story: dict[str, tuple[str, tuple[float, float]]] = field(default_factory=dict)  # batch
    rewrites: list = field(default_factory=list)  # stored articles' documents, again
    # the leads of the stories of more than one version the batch makes or joins
    shared: set[str] = field(default_factory=set)
    versions: list[Version] = field(default_factory=list)  # the batch's, for the band store
    band_run: Future | None = None  # their run of the band store, being prepared

    def bands(self):
        """The batch's part of the engine's band store, once prepared (the Whoosh engine's
        ``BandStore.take`` takes it)."""
        return self.band_run.result() if self.band_run is not None else None


def version_of(article: Article) -> Version:
    hashes, signature = article_sketch(article.headline, article.body)
    return Version(article.id, article.date, hashes, signature)


def _signatures(rows: list[tuple[str, object, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """``search.stories.signatures`` of (id, date, headline, body) rows (a task of the sketch
    pool: signatures are all that comes back)."""
    return signatures([(headline, body) for _, _, headline, body in rows])


def _sketcher(conn, parent: int) -> None:
    """A sketch process: it dies with the ingest (and leaves interrupts to it), has the
    permutations drawn while the ingest reads, and sends back the signatures of each task it
    receives until it receives None."""
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

    def __init__(self, bands=None, processes: int = 1):
        # bands: a store of the batch's sketches the engine keeps beside its index, made
        # ready in a thread while the batch is written (``prepare(versions)``, ``close()``):
        # the Whoosh engine's ``BandStore``; None where the index holds them itself
        self.bands = bands
        self.processes = processes
        self._pool: _Sketchers | None = None
        self._thread: ThreadPoolExecutor | None = None
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
        stored, read through the engine's source (``stored``, ``members``, ``holders``,
        ``rewrite``: the module's docstring)."""
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
