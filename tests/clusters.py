"""Real local Xapian clusters for the tests (``python -m search.cluster start``): three shards
of ``xapian-tcpsrv`` with a replica each, on free ports of 127.0.0.1, stopped by SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from search.cluster import Layout

ROOT = Path(__file__).resolve().parent.parent


def require_xapian() -> None:
    """Skip without Xapian's tools and bindings; fail instead under CI (``.ci/run`` installs
    them)."""
    missing = [t for t in ("xapian-tcpsrv", "xapian-replicate", "xapian-replicate-server")
               if shutil.which(t) is None]
    try:
        import xapian  # noqa: F401
    except ImportError:
        missing.append("the xapian Python bindings (pip install '.[xapian]')")
    if missing:
        message = "not installed: " + ", ".join(missing) + " (apt-get install xapian-tools)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def free_base(count: int) -> int:
    """A port from which ``count`` ports in a row are free on 127.0.0.1."""
    for base in range(41000 + os.getpid() % 1000 * 13, 65000 - count, count + 7):
        ok = True
        for port in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free ports")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Cluster:
    """A running ``python -m search.cluster start``: ``layout``, ``value`` (its NEWS_SHARDS)."""

    def __init__(self, root: Path, shards: int = 3, replicas: int = 1):
        require_xapian()
        for _ in range(5):  # another process may take a port between the check and the start
            self.layout = Layout(root, shards, replicas, free_base(3 * shards + shards * replicas))
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "search.cluster", "start", str(root), "--shards",
                 str(shards), "--replicas", str(replicas), "--port", str(self.layout.port)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.value = self.proc.stdout.readline().strip()
            if self.value:
                return
            err = self.proc.stderr.read()
            self.proc.wait(timeout=30)
            if self.proc.returncode != 2:  # 2: a port in use
                raise RuntimeError(f"the cluster did not start: {err}")
        raise RuntimeError("the cluster did not start: ports kept being taken")

    def server_pids(self) -> dict[int, list[int]]:
        """{port: pids} of this cluster's ``xapian-tcpsrv`` processes (read-only and
        writable; a server forks a child per connection, which keeps its listening socket),
        found by their command lines."""
        ports = set(self.layout.all_ports())
        found = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = (Path("/proc") / pid / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"xapian-tcpsrv") and b"--port" in cmd:
                port = int(cmd[cmd.index(b"--port") + 1])
                if port in ports:
                    found.setdefault(port, []).append(int(pid))
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


def loaded(articles, root: Path) -> Cluster:
    """A 3-shard cluster holding ``articles`` (written through ``XapianIndexer``)."""
    from search.engines.xapian.writer import XapianIndexer

    cluster = Cluster(root, shards=3, replicas=0)
    try:
        with XapianIndexer(cluster.value) as ix:
            ix.upsert(list(articles))
    except BaseException:
        cluster.stop()
        raise
    return cluster
