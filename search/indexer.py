"""The only writer of the index: batched, atomic upserts and deletes.

Each batch is committed on its own (Whoosh writes new segment files and then renames its table
of contents into place), so a process killed at any moment leaves an index holding every batch
committed before the kill and nothing of the batch in progress. Running the same ingest again
completes the job: articles already stored unchanged are recognised by a fingerprint term
(content hash + id) without reading any stored document, and are not rewritten.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.reading import SegmentReader
from whoosh.writing import NO_MERGE, LockError

from search import store
from search.errors import IndexLocked, IndexWriteError
from search.models import Article, IngestStats
from search.postings import RankingCodec
from search.schema import article_to_doc, fingerprint

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 20_000
DEFAULT_LIMIT_MB = 512  # per writer process: a 10,000-article segment sorts in memory
# batches at least this large are analysed by this many writer processes in parallel
PARALLEL_FROM = 500
PROCESSES = max(1, min(2, os.cpu_count() or 1))
# segments with fewer articles are merged at the end of an ingest run (see _consolidate)
SMALL_SEGMENT = DEFAULT_BATCH_SIZE // 2


class Indexer:
    """Use as a context manager: holds the ingest lock from ``__enter__`` to ``__exit__``.

    With ``rebuild=True`` everything goes into a new index that replaces the live one only when
    the ``with`` block ends without an error. With ``dry_run=True`` nothing is written; the
    counts say what would have happened.
    """

    def __init__(self, directory: Path, *, batch_size: int = DEFAULT_BATCH_SIZE,
                 limitmb: int = DEFAULT_LIMIT_MB, lock_timeout: float = 30.0,
                 rebuild: bool = False, dry_run: bool = False, processes: int = PROCESSES):
        self.directory = Path(directory)
        self.batch_size = max(1, batch_size)
        self.processes = max(1, processes)
        self.limitmb = limitmb
        self.lock_timeout = lock_timeout
        self.rebuild = rebuild
        self.dry_run = dry_run
        self.stats = IngestStats()
        self.ix = None
        self._name: str | None = None
        self._lock = None
        self._dry_seen: dict[str, str] = {}
        self._known: tuple[set[int], set[int]] | None = None
        self._started = 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> Indexer:
        self._started = time.perf_counter()
        if self.dry_run:
            self.ix = store.open_index(self.directory) if store.exists(self.directory) else None
            return self
        self._lock = store.ingest_lock(self.directory, self.lock_timeout)
        self._lock.__enter__()
        try:
            orphans = store.remove_orphans(self.directory)
            if orphans:
                log.warning("removed the files of an interrupted rebuild: %s", ", ".join(orphans))
            if self.rebuild or not store.exists(self.directory):
                self.ix, self._name = store.create_index(self.directory,
                                                         make_current=not self.rebuild)
            else:
                self.ix = store.open_index(self.directory)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.dry_run:
                return
            if exc_type is None:
                self._consolidate()
            if self.rebuild and self._name:
                if exc_type is None:
                    store.make_current(self.directory, self._name)
                else:
                    store.remove_index_files(self.directory, self._name)
            if exc_type is None:
                try:
                    store.write_meta(self.directory, articles=self.count())
                except OSError as err:
                    raise IndexWriteError(f"cannot write {store.META_FILE}: {err}") from err
        finally:
            self.stats.seconds = time.perf_counter() - self._started
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

    def upsert(self, articles: Iterable[Article]) -> IngestStats:
        """Add new articles, replace changed ones, count unchanged ones; commit every batch."""
        pending: dict[str, Article] = {}
        for article in articles:
            earlier = pending.get(article.id)
            if earlier is not None:
                # Whoosh would keep both copies of one id written in one batch: keep the last.
                if earlier.content_hash == article.content_hash:
                    self.stats.unchanged += 1
                else:
                    self.stats.updated += 1
                    pending[article.id] = article
                continue
            pending[article.id] = article
            if len(pending) >= self.batch_size:
                self._flush(pending)
                pending = {}
        if pending:
            self._flush(pending)
        return self.stats

    def _plan(self, pending: dict[str, Article]) -> tuple[list, list]:
        adds, updates = [], []
        if self.dry_run:
            for a in pending.values():
                stored = self._dry_seen.get(a.id) or (self._stored(a.id) if self.ix else None)
                if stored == fingerprint(a):
                    self.stats.unchanged += 1
                else:
                    (updates if stored else adds).append(a)
                self._dry_seen[a.id] = fingerprint(a)
            return adds, updates
        ids, prints = self._known_terms()
        with contextlib.ExitStack() as stack:
            opened = []

            def stored(**term) -> bool:
                # a searcher opens every segment: only when a lookup is needed at all
                if not opened:
                    opened.append(stack.enter_context(self.ix.searcher()))
                return opened[0].document_number(**term) is not None

            for a in pending.values():
                # the sets hold every term ever written, deleted documents' too: only a term
                # found there is looked up in the index (one lookup per segment)
                mark = fingerprint(a)
                if hash(mark) in prints and stored(fingerprint=mark):
                    self.stats.unchanged += 1
                elif hash(a.id) in ids and stored(id=a.id):
                    updates.append(a)
                else:
                    adds.append(a)
        return adds, updates

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

    def _stored(self, article_id: str) -> str | None:
        with self.ix.searcher() as searcher:
            fields = searcher.document(id=article_id)
        return fields.get("fingerprint") if fields else None

    def _flush(self, pending: dict[str, Article]) -> None:
        adds, updates = self._plan(pending)
        if not self.dry_run and (adds or updates):
            writer = self._writer(len(adds) + len(updates))

            def write():
                for a in adds:
                    writer.add_document(**article_to_doc(a))
                for a in updates:
                    writer.update_document(**article_to_doc(a))
                # no merging while the run lasts: each batch adds its segments; small ones are
                # merged at the end of the run (see _consolidate)
                writer.commit(mergetype=NO_MERGE)

            self._committing(writer, write, "writing the index",
                             "batches committed before this one are kept and searchable")
            if self._known is not None:
                for a in adds + updates:
                    self._known[0].add(hash(a.id))
                    self._known[1].add(hash(fingerprint(a)))
        self.stats.added += len(adds)
        self.stats.updated += len(updates)

    def _consolidate(self) -> None:
        """Merge the index's small segments (under ``SMALL_SEGMENT`` articles, or half the batch
        size if that is less) into one.

        Batches are committed without merging, so a bulk load leaves segments of about
        ``batch_size / PROCESSES`` articles that are never rewritten: merging in Whoosh runs at
        about the speed of indexing, and its default policy rewrites growing runs of segments
        again and again (at 200,000 articles it cost more than the indexing itself). Small
        segments, from small ingests or a run's last batch, are merged here, so a stream of
        small ingests does not pile them up. Killed midway, the index keeps the unmerged
        segments, which are complete."""
        segments = self.ix._segments()
        # a run with a smaller --batch-size writes smaller segments on purpose
        small = min(SMALL_SEGMENT, max(1, self.batch_size // 2))
        chosen = {seg.segment_id() for seg in segments if seg.doc_count_all() < small}
        if len(chosen) < 2:
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
            return self.ix.writer(limitmb=self.limitmb, timeout=5.0, codec=RankingCodec(),
                                  compound=False)
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
        if self.dry_run:
            for article_id in ids:
                if self.ix is not None and self._stored(article_id) is not None:
                    self.stats.deleted += 1
                else:
                    missing.append(article_id)
            return missing
        writer = self._writer()
        try:
            for article_id in ids:
                if writer.delete_by_term("id", article_id):
                    self.stats.deleted += 1
                else:
                    missing.append(article_id)
            writer.commit()
        except OSError as exc:
            _cancel(writer)
            raise IndexWriteError(f"deleting from {self.directory} failed: {exc}") from exc
        return missing


def _cancel(writer) -> None:
    """Give up a writer's batch; on a full disk even the clean-up may fail."""
    try:
        writer.cancel()
    except Exception:  # noqa: BLE001
        log.debug("cancelling the writer failed", exc_info=True)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so that a killed ingest
    leaves no writer process behind holding the ingest lock it inherited."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere: the process ends when its job is done
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _SubWriter(SubWriterTask):
    """Whoosh's writer process, reporting a failure to the parent instead of printing it, and
    dying with its parent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent = os.getpid()

    def run(self):
        _die_with_parent(self.parent)
        try:
            super().run()
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
