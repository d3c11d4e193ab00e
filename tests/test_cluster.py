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
