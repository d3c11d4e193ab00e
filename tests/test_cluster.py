"""``python -m search.cluster start``: a local Xapian cluster of real ``xapian-tcpsrv``
processes on 127.0.0.1 (issue 18's first part): its first line names the shards, each shard
takes writes at its writer and answers at its reader, replicas catch up, SIGTERM stops every
process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from search.cluster import ClusterError, Layout, parse_shards, shards_value

from .clusters import free_base, listening, require_xapian
from .conftest import ROOT


@pytest.fixture
def cluster(tmp_path):
    require_xapian()
    layout = Layout(tmp_path / "cluster", 3, 1, free_base(12))
    proc = subprocess.Popen([sys.executable, "-m", "search.cluster", "start", str(layout.root),
                             "--shards", "3", "--replicas", "1", "--port", str(layout.port)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline().strip()
    assert first, proc.stderr.read()
    yield proc, layout, parse_shards(first)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()


def test_shards_take_writes_answer_reads_and_replicas_catch_up(cluster):
    import xapian

    proc, layout, shards = cluster
    assert shards_value(shards) == shards_value(layout.value())
    assert len(shards) == 3 and all(len(s.replicas) == 1 for s in shards)
    for i, shard in enumerate(shards):
        writer = xapian.remote_open_writable(*shard.write)
        for k in range(i + 2):  # 2, 3 and 4 documents
            doc = xapian.Document()
            doc.set_data(f"article {i}-{k}")
            doc.add_boolean_term(f"Q{i}-{k}")
            doc.add_term("ferry")
            writer.replace_document(f"Q{i}-{k}", doc)
        writer.commit()
        writer.close()
    together = xapian.Database()
    for shard in shards:
        together.add_database(xapian.remote_open(*shard.read))
    assert together.get_doccount() == 9 and together.get_termfreq("ferry") == 9
    enquire = xapian.Enquire(together)
    enquire.set_query(xapian.Query("ferry"))
    assert enquire.get_mset(0, 20).get_matches_estimated() == 9
    # the replicas copy their shard within a few replication rounds
    deadline = time.monotonic() + 30
    while True:
        replicas = xapian.Database()
        for shard in shards:
            replicas.add_database(xapian.remote_open(*shard.replicas[0]))
        if replicas.get_doccount() == 9 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert replicas.get_doccount() == 9
    # SIGTERM stops every server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not any(listening(p) for p in layout.all_ports())


def test_a_port_in_use_is_refused_with_a_message(tmp_path):
    require_xapian()
    base = free_base(6)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", base + 4))
        busy.listen()
        result = subprocess.run([sys.executable, "-m", "search.cluster", "start",
                                 str(tmp_path / "c"), "--shards", "2", "--port", str(base)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert f"port {base + 4}" in result.stderr and "in use" in result.stderr


def test_the_shards_value():
    shards = parse_shards("10.0.0.5:33340+10.0.0.6:33340, 10.0.0.7:33343")
    assert [s.read for s in shards] == [("10.0.0.5", 33340), ("10.0.0.7", 33343)]
    assert shards[0].write == ("10.0.0.5", 33341) and shards[0].replicas == (("10.0.0.6", 33340),)
    for bad in ("", "localhost", "host:port", "a:1+b", "h:70000"):
        with pytest.raises(ClusterError):
            parse_shards(bad)


def test_a_bulk_load_into_the_shards_folders_is_served_by_the_cluster(tmp_path, xapian_demo):
    """``ingest.py --shards`` naming the shards' folders (``python -m search.cluster folders``)
    builds them directly; ``search.cluster start`` then serves them, and they answer as the
    cluster loaded through its writers does; a second ingest into the running cluster finds
    every article unchanged. A folder a server writes to is refused, naming it."""
    from search.models import SearchRequest
    from search.service import Archive

    from .clusters import Cluster
    from .conftest import DEMO, run_ingest, summary_of

    require_xapian()
    root = tmp_path / "bulk"
    folders = subprocess.run([sys.executable, "-m", "search.cluster", "folders", str(root),
                              "--shards", "2"], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
    assert folders.returncode == 0, folders.stderr
    value = folders.stdout.strip()
    assert value == f"{root.resolve()}/primary/shard-0,{root.resolve()}/primary/shard-1"
    first = run_ingest("--engine", "xapian", "--shards", value, "--json", DEMO)
    assert first.returncode == 0, first.stderr
    assert summary_of(first)["added"] == 57
    # read directly, and through a cluster started on them: the same as the demo cluster's
    queries = ["rail landslip", "ferry", "council NOT harbour", '"town hall"']
    through_writers = Archive(engine="xapian", shards=xapian_demo.value)
    direct = Archive(engine="xapian", shards=value)
    expected = {q: through_writers.search(SearchRequest(q=q)).total for q in queries}
    assert all(expected.values())
    assert {q: direct.search(SearchRequest(q=q)).total for q in queries} == expected
    direct.close()
    cluster = Cluster(root, shards=2, replicas=0)
    try:
        served = Archive(engine="xapian", shards=cluster.value)
        got = served.search(SearchRequest(q="ferry"))
        want = through_writers.search(SearchRequest(q="ferry"))
        assert got.total == want.total and got.facets == want.facets
        served.close()
        again = run_ingest("--engine", "xapian", "--shards", cluster.value, "--json", DEMO)
        assert again.returncode == 0, again.stderr
        assert summary_of(again)["unchanged"] == 57
        # while a writer is connected to a shard's server, that shard's folder is locked: a
        # bulk load into it is refused with a message, not mixed in
        import xapian

        writer = xapian.remote_open_writable(*parse_shards(cluster.value)[0].write)
        try:
            locked = run_ingest("--engine", "xapian", "--shards", value, DEMO)
        finally:
            writer.close()
        assert locked.returncode == 2, locked.stderr
        assert "primary/shard-0 cannot be written" in locked.stderr
        assert "lock" in locked.stderr
    finally:
        cluster.stop()
        through_writers.close()


def test_a_shard_named_by_its_folder():
    shards = parse_shards("/srv/news/shard-0, ./shard-1")
    assert [s.path for s in shards] == ["/srv/news/shard-0", "./shard-1"]
    assert shards_value(shards) == "/srv/news/shard-0,./shard-1"
    with pytest.raises(ClusterError):
        parse_shards("/srv/news/shard-0+10.0.0.6:33340")


def test_a_rebuild_keeps_exactly_what_the_sources_hold(tmp_path):
    """``--rebuild`` on the cluster: every article written again, those the sources no longer
    hold dropped and counted (a dry run counts them and writes nothing); ids too long to be a
    Xapian term are found too."""
    from search.models import SearchRequest
    from search.service import Archive

    from .clusters import Cluster
    from .conftest import run_ingest, summary_of, write_jsonl

    long_id = "x" * 300
    old = write_jsonl(tmp_path / "old.jsonl", [
        {"id": i, "headline": f"Old ferry timetable {n}", "people": []}
        for n, i in enumerate(["o0", "o1", "o2", "keep", long_id])])
    new = write_jsonl(tmp_path / "new.jsonl", [
        {"id": "keep", "headline": "Old ferry timetable 3", "people": []},
        {"id": "n0", "headline": "New ferry timetable", "people": []}])
    cluster = Cluster(tmp_path / "c", shards=3, replicas=0)
    try:
        where = ("--engine", "xapian", "--shards", cluster.value, "--json")
        assert summary_of(run_ingest(*where, old))["added"] == 5
        preview = summary_of(run_ingest(*where, "--rebuild", "--dry-run", new))
        assert (preview["kept"], preview["deleted"]) == (2, 4)
        archive = Archive(engine="xapian", shards=cluster.value)
        assert archive.search(SearchRequest(q="ferry")).total == 5  # the dry run wrote nothing
        s = summary_of(run_ingest(*where, "--rebuild", new))
        assert (s["kept"], s["deleted"], s["added"], s["unchanged"]) == (2, 4, 1, 1)
        found = archive.search(SearchRequest(q="ferry"))
        assert found.total == 2 and {h.id for h in found.hits} == {"keep", "n0"}
        archive.close()
    finally:
        cluster.stop()


def test_batches_made_ahead_are_all_written(tmp_path):
    """With nothing to extract (``--people never``), a batch's documents are made while the last
    batch is being written: every batch still lands once, whole, and a re-run finds each
    article unchanged or updated as it is."""
    from search.models import SearchRequest
    from search.service import Archive

    from .clusters import Cluster
    from .conftest import run_ingest, summary_of, write_jsonl

    records = [{"id": f"b{i}", "headline": f"Ferry timetable {i}", "body": f"Sailing {i}.",
                "date": f"2024-01-{i + 1:02d}"} for i in range(9)]
    source = write_jsonl(tmp_path / "a.jsonl", records)
    cluster = Cluster(tmp_path / "c", shards=3, replicas=0)
    try:
        where = ("--engine", "xapian", "--shards", cluster.value, "--json", "--people", "never",
                 "--batch-size", "2")
        assert summary_of(run_ingest(*where, source))["added"] == 9
        archive = Archive(engine="xapian", shards=cluster.value)
        found = archive.search(SearchRequest(q="ferry", per_page=20))
        assert found.total == 9 and {h.id for h in found.hits} == {r["id"] for r in records}
        records[4]["body"] = "Sailing cancelled."
        source = write_jsonl(tmp_path / "a.jsonl", records)
        s = summary_of(run_ingest(*where, source))
        assert (s["added"], s["updated"], s["unchanged"]) == (0, 1, 8)
        assert archive.search(SearchRequest(q="cancelled")).total == 1
        archive.close()
    finally:
        cluster.stop()
