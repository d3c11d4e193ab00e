"""Concurrency and load against the real production server on 127.0.0.1."""

import json
import random
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from bench.load import QUERIES, article_paths, run_wrk, start_server

from .conftest import DEMO, ROOT, run_ingest, write_jsonl

pytestmark = pytest.mark.slow


def test_searches_keep_answering_while_ingest_writes(tmp_path):
    index = tmp_path / "ix"
    assert run_ingest("--index", index, DEMO).returncode == 0
    rng = random.Random(3)
    total = 10_000
    src = write_jsonl(tmp_path / "new.jsonl", [{
        "id": f"z{i:05d}", "headline": f"Zebrafinch survey {i}",
        "body": "zebrafinch " + " ".join(rng.choice(["harbour", "tide", "quay", "gull"])
                                          for _ in range(30)),
        "date": "2025-06-01", "people": ["Wren Tobias"]} for i in range(total)])
    proc, base = start_server(index, workers=2)
    errors, seen = [], []
    stop = threading.Event()
    paths = ["/?q=harbour", "/api/search?q=zebrafinch", "/?q=zebrafinch&person=Wren+Tobias",
             "/api/search?year=2025", "/articles/mqc-2019-001", "/?sort=oldest&page=2",
             "/api/stats"]

    def client(n):
        i = n
        while not stop.is_set():
            path = paths[i % len(paths)]
            i += 1
            try:
                with urllib.request.urlopen(base + path, timeout=60) as resp:
                    body = resp.read()
                    if path == "/api/search?q=zebrafinch":
                        seen.append(json.loads(body)["total"])
            except (urllib.error.URLError, OSError, ValueError) as exc:
                errors.append(f"{path}: {exc}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        ingest = subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--index", str(index),
                                 "--batch-size", "1000", "-q", str(src)], capture_output=True,
                                text=True, timeout=600, cwd=ROOT)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    try:
        assert ingest.returncode == 0, ingest.stderr
        assert errors == [], errors[:5]
        assert any(0 < c < total for c in seen), "new articles never appeared mid-ingest"
        with urllib.request.urlopen(base + "/api/search?q=zebrafinch", timeout=60) as resp:
            assert json.load(resp)["total"] == total  # all of them, without a restart
        assert len(seen) > 10
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.corpus
def test_wrk_load_on_reuters_has_no_errors(reuters_ingest, capsys):
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed (apt-get install wrk); .ci/run installs it")
    _, index, _ = reuters_ingest
    proc, base = start_server(index, workers=2)
    try:
        result = run_wrk(base, QUERIES + article_paths(base), seconds=10, connections=8)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with capsys.disabled():
        print(f"\nload: {result['requests_per_s']} req/s, p50 {result['p50_ms']:.1f} ms, "
              f"p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
              f"errors {result['errors']}")
    assert result["requests"] > 50
    assert all(v == 0 for v in result["errors"].values()), result["errors"]
