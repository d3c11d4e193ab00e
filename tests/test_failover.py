"""The Xapian engine on a real cluster whose shards fail: a shard that is down or slow gives an
answer from the others, marked partial, never a 5xx; a configured replica takes over; writes to
a missing shard fail the ingest with a clear message and lose nothing committed."""

from __future__ import annotations

import os
import subprocess
import sys
import signal
import time

import pytest

from search.models import SearchRequest
from search.service import Archive
from web import create_app

from .clusters import Cluster, listening
from .conftest import DEMO, ROOT, run_ingest, summary_of, write_jsonl

DEMO_ARTICLES = 57


def _replicas_caught_up(cluster: Cluster, count: int, seconds: float = 60) -> None:
    import xapian

    deadline = time.monotonic() + seconds
    while True:
        total = 0
        for i in range(cluster.layout.shards):
            try:
                total += xapian.remote_open("127.0.0.1", cluster.layout.replica_port(0, i),
                                            2000, 2000).get_doccount()
            except xapian.Error:
                pass
        if total == count:
            return
        assert time.monotonic() < deadline, f"the replicas hold {total} of {count} articles"
        time.sleep(0.5)


@pytest.fixture
def cluster(tmp_path):
    cluster = Cluster(tmp_path / "cluster", shards=3, replicas=1)
    try:
        result = run_ingest("--engine", "xapian", "--shards", cluster.value, "--json", DEMO)
        assert result.returncode == 0, result.stderr
        assert summary_of(result)["added"] == DEMO_ARTICLES
        _replicas_caught_up(cluster, DEMO_ARTICLES)
        yield cluster
    finally:
        cluster.stop()


def primaries(cluster: Cluster) -> str:
    """NEWS_SHARDS naming each shard's primary read server alone (no replica to fall back on)."""
    return ",".join(f"127.0.0.1:{cluster.layout.ports(i)[0]}"
                    for i in range(cluster.layout.shards))


def shard_total(port: int, q: str) -> int:
    """The articles matching ``q`` on one shard alone."""
    archive = Archive(engine="xapian", shards=f"127.0.0.1:{port}")
    try:
        return archive.search(SearchRequest(q=q)).total
    finally:
        archive.close()


def stop_server(cluster: Cluster, port: int) -> None:
    for pid in cluster.server_pids()[port]:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while listening(port):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_shard_down_gives_a_partial_answer_then_its_replica_takes_over(cluster):
    down = cluster.layout.ports(0)[0]
    per_shard = {i: shard_total(cluster.layout.ports(i)[0], "ferry")
                 for i in range(cluster.layout.shards)}
    app = create_app({"NEWS_ENGINE": "xapian", "NEWS_SHARDS": primaries(cluster)})
    client = app.test_client()
    full = client.get("/api/search?q=ferry").get_json()
    assert full["partial"] is False and full["missing_shards"] == []
    assert full["total"] == sum(per_shard.values()) == 10
    assert per_shard[0] > 0  # the test could not see a shard missing otherwise

    stop_server(cluster, down)  # mid-run: the app holds connections to it
    resp = client.get("/api/search?q=ferry")
    assert resp.status_code == 200
    partial = resp.get_json()
    assert partial["partial"] is True and partial["missing_shards"] == [f"127.0.0.1:{down}"]
    assert partial["total"] == full["total"] - per_shard[0] == len(
        client.get("/api/search?q=ferry&per_page=100&group=none").get_json()["hits"])
    # facets are counted over the shards that answered: as many articles as the total
    assert sum(v["count"] for v in partial["facets"]["year"]) + partial["undated"] == \
        partial["total"]
    page = client.get("/?q=ferry")
    assert page.status_code == 200
    assert b"Partial answer: 1 of the archive" in page.data
    assert f"127.0.0.1:{down}".encode() in page.data
    # the app's other pages answer from the shards that answered, none with a 5xx
    for path in ("/api/stats", "/api/people?prefix=t", "/api/trends?q=ferry", "/",
                 "/api/export.jsonl?q=ferry", "/feed.atom?q=ferry", "/api/kwic?q=ferry",
                 "/api/significant?q=ferry", "/api/places/Marlow%20Quay"):
        assert client.get(path).status_code == 200, path
    app.extensions["archive"].close()

    # with the replicas named, shard 0 is read from its replica: the whole answer
    app = create_app({"NEWS_ENGINE": "xapian", "NEWS_SHARDS": cluster.value})
    whole = app.test_client().get("/api/search?q=ferry").get_json()
    assert whole["partial"] is False and whole["total"] == full["total"]
    assert whole["facets"] == full["facets"]
    app.extensions["archive"].close()


def test_a_slow_shard_is_left_out_in_time(cluster, monkeypatch):
    monkeypatch.setenv("NEWS_SHARD_TIMEOUT", "0.5")
    slow = cluster.layout.ports(1)[0]
    app = create_app({"NEWS_ENGINE": "xapian", "NEWS_SHARDS": primaries(cluster)})
    client = app.test_client()
    full = client.get("/api/search?q=council").get_json()
    pids = cluster.server_pids()[slow]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # alive, connected, silent
    try:
        started = time.monotonic()
        resp = client.get("/api/search?q=council")
        took = time.monotonic() - started
        assert resp.status_code == 200
        body = resp.get_json()
        assert body["partial"] is True and body["missing_shards"] == [f"127.0.0.1:{slow}"]
        assert body["total"] < full["total"]
        assert took < 4, took  # a few timeouts of 0.5 s, not a hang
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    again = client.get("/api/search?q=council").get_json()
    assert again["partial"] is False and again["total"] == full["total"]
    app.extensions["archive"].close()


def test_writes_to_a_missing_shard_fail_the_ingest_and_lose_nothing(cluster, tmp_path):
    stop_server(cluster, cluster.layout.ports(2)[1])  # shard 2's writer
    new = write_jsonl(tmp_path / "new.jsonl", [
        {"id": f"late-{n}", "headline": f"Late report {n}", "body": "A plainly made-up report.",
         "date": "2024-05-01"} for n in range(6)])
    result = run_ingest("--engine", "xapian", "--shards", cluster.value, "--json", new)
    assert result.returncode == 2
    assert f"127.0.0.1:{cluster.layout.ports(2)[0]}" in result.stderr
    assert "does not answer" in result.stderr and "Traceback" not in result.stderr
    archive = Archive(engine="xapian", shards=cluster.value)
    try:
        assert archive.search(SearchRequest()).total == DEMO_ARTICLES  # nothing lost
        assert archive.search(SearchRequest(q="late report")).total == 0  # nothing half-done
    finally:
        archive.close()


def test_an_interrupted_load_is_completed_by_running_it_again(cluster, tmp_path):
    """Killed between batches, an ingest leaves some batches committed (on some shards: a
    batch is committed shard by shard); the same command run again adds the rest, and the
    articles already written count as unchanged."""
    articles = [{"id": f"bulk-{n:05d}", "headline": f"Made-up notice {n}",
                 "body": f"Notice number {n} of a plainly fictional parish bulletin.",
                 "date": f"20{10 + n % 14:02d}-0{1 + n % 9}-1{n % 10}"} for n in range(3000)]
    source = write_jsonl(tmp_path / "bulk.jsonl", articles)
    args = [sys.executable, str(ROOT / "ingest.py"), "--engine", "xapian", "--shards",
            cluster.value, "--batch-size", "100", "-q", str(source)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    archive = Archive(engine="xapian", shards=cluster.value)
    try:
        deadline = time.monotonic() + 120
        while archive.search(SearchRequest(q="notice")).total == 0:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=30)
        written = archive.search(SearchRequest(q="notice")).total
        assert 0 < written < len(articles), written
        again = run_ingest("--engine", "xapian", "--shards", cluster.value, "--json", source)
        assert again.returncode == 0, again.stderr
        summary = summary_of(again)
        assert summary["added"] + summary["unchanged"] == len(articles)
        assert summary["unchanged"] >= written - 100  # all but a batch cut short on a shard
        assert archive.search(SearchRequest(q="notice")).total == len(articles)
        assert archive.search(SearchRequest()).total == DEMO_ARTICLES + len(articles)
    finally:
        archive.close()
        proc.stderr.close()


def test_a_silent_shard_is_left_out_at_open_though_a_search_may_wait_longer(cluster,
                                                                          monkeypatch):
    """A search may wait for a shard as long as its time limit (the read timeout follows
    SEARCH_TIME_LIMIT), but a shard that is silent when the shards are opened is still left
    out within NEWS_SHARD_TIMEOUT (its default, 2 s), not after the search's limit."""
    monkeypatch.delenv("NEWS_SHARD_TIMEOUT", raising=False)
    slow = cluster.layout.ports(1)[0]
    app = create_app({"NEWS_ENGINE": "xapian", "NEWS_SHARDS": primaries(cluster),
                      "SEARCH_TIME_LIMIT": 30})
    engine = app.extensions["archive"].engine
    assert engine.shards.read_timeout == 31 and engine.shards.timeout == 2
    pids = cluster.server_pids()[slow]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        body = app.test_client().get("/api/search?q=council").get_json()
        took = time.monotonic() - started
        assert body["partial"] is True and body["missing_shards"] == [f"127.0.0.1:{slow}"]
        assert took < 10, took  # the 2 s probe, not the 31 s a search may wait
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    app.extensions["archive"].close()


def test_a_shard_slow_on_the_work_asked_is_a_search_timeout_not_a_missing_shard(cluster,
                                                                              monkeypatch):
    """A shard that answered when the shards were opened again, and still ran past the read
    timeout, was slow because of the search: the time limit's error, not 'no shards'."""
    import xapian

    from search.engines.xapian.shards import ShardSet, retrying
    from search.errors import SearchTimeout, ShardsUnavailable

    shards = ShardSet(primaries(cluster))
    tries = []

    def slow(opened):
        tries.append(opened.partial)
        raise xapian.NetworkTimeoutError("Timeout expired while trying to read")

    with pytest.raises(SearchTimeout, match="more specific"):
        retrying(shards, slow)
    assert tries == [False, False]  # tried twice, every shard answering

    def broken(opened):
        raise xapian.NetworkError("Received EOF")

    with pytest.raises(ShardsUnavailable):
        retrying(shards, broken)
    shards.close()
