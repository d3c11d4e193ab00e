"""Killing ingest (SIGKILL) at random moments never leaves a broken or duplicated index."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from search.engines.whoosh import store

from .conftest import ROOT, run_ingest, summary_of, write_jsonl

TOTAL = 6_000
BATCH = 250


def make_source(path):
    rng = random.Random(7)
    words = "harbour ferry council storm tide mackerel lighthouse budget vote school".split()
    return write_jsonl(path, [{
        "id": f"k{i:05d}",
        "headline": f"{rng.choice(words).title()} report number {i}",
        "body": " ".join(rng.choice(words) for _ in range(80)),
        "date": f"20{rng.randint(10, 24)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "people": [],
    } for i in range(TOTAL)])


def check_index(directory):
    """The index opens, answers a search, and holds whole batches with no duplicate."""
    ix = store.open_index(directory)
    try:
        with ix.searcher() as searcher:
            ids = [f["id"] for f in searcher.all_stored_fields()]
            from whoosh.query import Term
            searcher.search(Term("body", "harbour"), limit=5)
            assert searcher.doc_count() == len(ids)
    finally:
        ix.close()
    assert len(ids) == len(set(ids)), "duplicate articles after a kill"
    assert len(ids) % BATCH == 0, f"{len(ids)} articles: a batch was half-written"
    return len(ids)


def start_ingest(index, src, *extra):
    return subprocess.Popen(
        [sys.executable, str(ROOT / "ingest.py"), "--index", str(index), "--batch-size",
         str(BATCH), "--people", "never", "-q", *extra, str(src)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path):
    src = make_source(tmp_path / "src.jsonl")
    index = tmp_path / "ix"
    rng = random.Random(2024)
    counts = []
    for _ in range(4):
        proc = start_ingest(index, src)
        time.sleep(rng.uniform(1.0, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if not store.exists(index):
            continue
        counts.append(check_index(index))
    assert any(0 < c < TOTAL for c in counts), f"no kill landed mid-run: {counts}"
    before = check_index(index)
    result = run_ingest("--index", index, "--json", "--people", "never", src)
    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert summary["added"] == TOTAL - before and summary["unchanged"] == before
    assert check_index(index) == TOTAL


@pytest.mark.slow
def test_sigkill_during_rebuild_keeps_the_old_index(tmp_path):
    src = make_source(tmp_path / "src.jsonl")
    index = tmp_path / "ix"
    small = write_jsonl(tmp_path / "small.jsonl",
                        [{"id": f"s{i}", "headline": "small", "people": []} for i in range(BATCH)])
    assert run_ingest("--index", index, small).returncode == 0
    live = store.current_name(index)
    proc = start_ingest(index, src, "--rebuild")
    # kill it once the new index has committed a batch (ingest is too fast for a fixed delay)
    deadline = time.time() + 60
    while not [f for f in os.listdir(index) if f.endswith(".toc") and live not in f]:
        assert proc.poll() is None and time.time() < deadline, "the rebuild ended before a kill"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert store.current_name(index) == live
    assert check_index(index) == BATCH
    # the next ingest clears the abandoned rebuild's files and carries on
    result = run_ingest("--index", index, "--json", small)
    assert summary_of(result)["unchanged"] == BATCH
    leftovers = [f for f in os.listdir(index)
                 if "news" in f and not f.startswith((f"{live}_", f"_{live}_"))]
    assert not leftovers


@pytest.mark.slow
def test_an_interrupt_keeps_whole_batches_and_says_so(tmp_path):
    """Ctrl-C (SIGINT) while batches are read and committed (a commit goes on while the next
    batch is read): the ingest ends with code 130 and says what is kept; the index holds whole
    batches, stories included, and the same command finishes the job."""
    src = make_source(tmp_path / "src.jsonl")
    index = tmp_path / "ix"
    rng = random.Random(11)
    counts = []
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "ingest.py"), "--index", str(index), "--batch-size",
             str(BATCH), "--people", "never", "-q", str(src)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        time.sleep(rng.uniform(1.5, 4.0))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:  # it finished before the interrupt
            continue
        assert proc.returncode == 130, err
        assert "interrupted; batches committed so far are kept" in err
        assert "Traceback" not in err
        counts.append(check_index(index))
    assert counts, "every ingest ended before its interrupt"
    before = check_index(index)
    result = run_ingest("--index", index, "--json", "--people", "never", src)
    assert result.returncode == 0, result.stderr
    assert summary_of(result)["added"] == TOTAL - before
    assert check_index(index) == TOTAL
    # every article is in a story, as after one uninterrupted ingest
    ix = store.open_index(index)
    try:
        with ix.searcher() as searcher:
            assert all(f.get("story") for f in searcher.all_stored_fields())
    finally:
        ix.close()
