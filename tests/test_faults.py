"""Faults: SIGKILL at 25 random moments, a full disk, a stale lock."""

import random
import resource
import signal
import subprocess
import sys
import time

import pytest

from search.engines.whoosh import store
from search.models import SearchRequest
from search.service import Archive

from .conftest import ROOT, run_ingest, summary_of, write_jsonl

pytestmark = pytest.mark.slow

TOTAL = 10_000
BATCH = 625  # at least search.engines.whoosh.indexer.PARALLEL_FROM: the two-process writer is what gets killed


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    rng = random.Random(11)
    words = ("harbour ferry council storm tide mackerel lighthouse budget vote school market "
             "minister strike river bridge festival").split()
    return write_jsonl(tmp_path_factory.mktemp("faults") / "src.jsonl", [{
        "id": f"f{i:05d}", "headline": f"{rng.choice(words).title()} report {i}",
        "body": " ".join(rng.choice(words) for _ in range(40)),
        "date": f"20{rng.randint(10, 24)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "people": [f"Person {rng.randint(1, 50)}"],
    } for i in range(TOTAL)])


def ingest_proc(index, src, *extra, **kw):
    return subprocess.Popen([sys.executable, str(ROOT / "ingest.py"), "--index", str(index),
                             "--batch-size", str(BATCH), "-q", *extra, str(src)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, **kw)


def check(index) -> int:
    """Opens, answers searches, holds exactly a prefix of the source (whole batches, in order,
    no duplicates, nothing half-written). Returns the count."""
    ix = store.open_index(index)
    with ix.searcher() as s:
        ids = sorted(f["id"] for f in s.all_stored_fields())
        assert s.doc_count() == len(ids)
    ix.close()
    assert len(ids) == len(set(ids)), "duplicates"
    assert ids == [f"f{i:05d}" for i in range(len(ids))], "not a prefix of the source"
    archive = Archive(index)
    res = archive.search(SearchRequest(q="harbour"))
    archive.close()
    assert res.total <= len(ids)
    return len(ids)


def test_sigkill_at_25_random_moments(tmp_path, source):
    index = tmp_path / "ix"
    rng = random.Random(25)
    # one whole ingest first: the kills are spread over its duration on this machine
    started = time.perf_counter()
    assert ingest_proc(index, source).wait(timeout=600) == 0
    duration = time.perf_counter() - started
    counts = [check(index)]
    store.remove_index_files(index, store.current_name(index))
    (index / store.CURRENT_FILE).unlink()
    kills = attempts = 0
    while kills < 25:
        # bounded: an ingest that keeps finishing before its kill fails the test, not hangs it
        attempts += 1
        assert attempts <= 50, f"only {kills} kills in {attempts - 1} runs: ingest too quick"
        proc = ingest_proc(index, source)
        time.sleep(rng.uniform(0.05, 0.95) * duration)
        if proc.poll() is not None:  # finished before the kill: start again from an empty index
            # (and draw later kills from a shorter span: the first, timed ingest can be the
            # slowest, as on a clean clone where 26 of 50 runs finished before their kill)
            duration *= 0.8
            counts.append(check(index))
            store.remove_index_files(index, store.current_name(index))
            (index / store.CURRENT_FILE).unlink()
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        if store.exists(index):
            counts.append(check(index))
    assert len({c for c in counts if 0 < c < TOTAL}) >= 4, counts  # kills landed all over
    before = check(index)
    result = run_ingest("--index", index, "--json", source)
    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert summary["unchanged"] == before and summary["added"] == TOTAL - before
    assert check(index) == TOTAL


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_full_disk_fails_clearly_and_keeps_the_index(tmp_path, source):
    index = tmp_path / "ix"
    small = write_jsonl(tmp_path / "small.jsonl", [{"id": f"s{i}", "headline": f"Small {i}",
                                                    "body": "harbour", "people": []}
                                                   for i in range(50)])
    assert run_ingest("--index", index, small).returncode == 0
    proc = subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--index", str(index),
                           "--batch-size", "5000", str(source)], capture_output=True, text=True,
                          cwd=ROOT, preexec_fn=_limit_file_size, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "writing the index" in proc.stderr and "File too large" in proc.stderr
    assert "Traceback" not in proc.stderr
    archive = Archive(index)
    assert archive.search(SearchRequest(q="harbour")).total == 50
    archive.close()
    # room again: the same command completes
    assert run_ingest("--index", index, source).returncode == 0
    archive = Archive(index)
    assert archive.stats()["articles"] == TOTAL + 50
    archive.close()


def test_stale_lock_from_a_killed_ingest(tmp_path, source):
    index = tmp_path / "ix"
    proc = ingest_proc(index, source)
    deadline = time.time() + 30
    while not (index / store.LOCK_FILE).exists() or not (index / store.LOCK_FILE).read_text():
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    started = time.time()
    result = run_ingest("--index", index, "--lock-timeout", "2", "--json", source)
    assert result.returncode == 0, result.stderr
    assert "stopped before finishing" in result.stderr and f"process {proc.pid}" in result.stderr
    assert time.time() - started < 120
    assert check(index) == TOTAL


def test_a_failed_writer_process_fails_the_batch_and_loses_nothing(tmp_path, monkeypatch):
    """Whoosh's MpWriter would commit without the segment of a process that died; ours refuses
    the batch, so the index keeps exactly what it had and the error says what happened."""
    import os

    import search.engines.whoosh.indexer
    from search.errors import IndexWriteError
    from search.engines.whoosh.indexer import PARALLEL_FROM, Indexer
    from search.models import Article

    index = tmp_path / "ix"
    first = [Article(id=f"a{i}", headline=f"First {i}", body="harbour") for i in range(10)]
    with Indexer(index) as indexer:
        indexer.upsert(first)
    monkeypatch.setattr(search.engines.whoosh.indexer._SubWriter, "run", lambda self: os._exit(3))
    more = [Article(id=f"b{i}", headline=f"More {i}", body="ferry") for i in range(PARALLEL_FROM)]
    with pytest.raises(IndexWriteError, match="writer process"), Indexer(index) as indexer:
        indexer.upsert(more)
    archive = Archive(index)
    assert archive.stats()["articles"] == 10
    assert archive.search(SearchRequest(q="ferry")).total == 0
    archive.close()
    monkeypatch.undo()
    with Indexer(index) as indexer:  # the same articles go in once the fault is gone
        indexer.upsert(more)
    archive = Archive(index)
    assert archive.stats()["articles"] == 10 + PARALLEL_FROM
    archive.close()


def test_current_is_replaced_atomically(tmp_path):
    """``CURRENT`` names the live index: a write of it that fails (here: no byte may be
    written, as on a full disk) must leave the old name whole, never an empty file."""
    (tmp_path / store.CURRENT_FILE).write_text("news1\n")
    code = ("import sys; from pathlib import Path; from search.engines.whoosh import store\n"
            "try:\n    store.make_current(Path(sys.argv[1]), 'news2')\n"
            "except OSError:\n    sys.exit(3)\n")

    def no_writes():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT,
                          preexec_fn=no_writes, capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 3, proc.stderr
    assert store.current_name(tmp_path) == "news1"
    assert [p.name for p in tmp_path.iterdir()] == [store.CURRENT_FILE]  # no temporary left
