"""A local Xapian cluster for development, tests and the README (issue 18):

    python -m search.cluster start DIR --shards N [--replicas R] [--port P]

starts, on 127.0.0.1, for each shard ``i`` of ``DIR``:

- ``xapian-tcpsrv --writable`` on its database ``DIR/primary/shard-i`` (the one writer of the
  shard; the database is made if missing), at port ``P + 3i + 1``;
- ``xapian-tcpsrv`` (read-only) on the same database at port ``P + 3i``;
- with replicas, ``xapian-replicate-server`` for the primaries at port ``P + 3i + 2``, and for
  each replica ``r`` a copy ``DIR/replica-r/shard-i`` kept up to date by ``xapian-replicate``
  (every ``REPLICATE_SECONDS``) and served read-only at port ``P + 3N + rN + i`` (N shards;
  see ``Layout``).

A shard may also be named by its database's folder (a ``NEWS_SHARDS`` part holding a ``/``),
opened directly rather than through a server: ``ingest.py`` then builds the shard on this
machine (a bulk load, without a network round trip per article), and ``python -m
search.cluster start DIR`` serves what was built (its read servers see each commit even while
they run; Xapian's lock refuses a bulk load into a shard while an ingest writes to it through
its server, and the other way round). ``python -m search.cluster folders DIR --shards N``
prints that value for a cluster's primaries.

Its first line on standard output is the ``NEWS_SHARDS`` value that names the cluster:
shards separated by commas, each its read server ``host:port``, then ``+host:port`` for each
replica (``127.0.0.1:33340+127.0.0.1:33349,127.0.0.1:33343+...``); a shard's writer listens
at its read port + 1. It runs until SIGTERM or Ctrl-C, then stops every process it started. A
server that stops meanwhile (killed, to try a failover) is reported on standard error and the
others keep running; when every server has stopped, so does the command (exit 1).

``xapian-tcpsrv`` has neither authentication nor encryption, and a writable port lets anyone
who reaches it change the shard: this command binds to 127.0.0.1 only, and a deployment must
bind to loopback or a private network. Xapian is GPL-2.0-or-later; the servers come from
Debian's ``xapian-tools``, the Python bindings from the optional extra
``pip install '.[xapian]'``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORT = 33340
REPLICATE_SECONDS = 2
WRITER_TIMEOUT_MS = 600_000
HOST = "127.0.0.1"
TOOLS = ("xapian-tcpsrv", "xapian-replicate", "xapian-replicate-server")


class ClusterError(Exception):
    """The cluster cannot be started (a missing tool, a port in use, a bad argument)."""


@dataclass(frozen=True)
class Shard:
    """Where one shard is served: its read server, its writer, its replicas' read servers;
    or, for a shard opened directly, its database's folder (``path``; no servers)."""

    read: tuple[str, int] = ("", 0)
    write: tuple[str, int] = ("", 0)
    replicas: tuple[tuple[str, int], ...] = ()
    path: str | None = None

    @property
    def name(self) -> str:
        """How messages name the shard: its folder, or its read server."""
        return self.path if self.path is not None else f"{self.read[0]}:{self.read[1]}"

    def spec(self) -> str:
        if self.path is not None:
            return self.path
        return "+".join(f"{h}:{p}" for h, p in (self.read, *self.replicas))


def parse_shards(value: str) -> list[Shard]:
    """The shards a ``NEWS_SHARDS`` value names (``ClusterError`` for one that is not
    ``host:port[+host:port...]`` or a folder, separated by commas)."""
    shards = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if "/" in part:
            if "+" in part:
                raise ClusterError(f"a shard named by its folder has no replicas: {part!r}")
            shards.append(Shard(path=part))
            continue
        servers = []
        for server in part.split("+"):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65535:
                raise ClusterError(f"not host:port in NEWS_SHARDS: {server!r}")
            servers.append((host, int(port)))
        read = servers[0]
        shards.append(Shard(read, (read[0], read[1] + 1), tuple(servers[1:])))
    if not shards:
        raise ClusterError("NEWS_SHARDS names no shard")
    return shards


def shards_value(shards: list[Shard]) -> str:
    return ",".join(s.spec() for s in shards)


@dataclass(frozen=True)
class Layout:
    """Ports and folders of a cluster of ``shards`` shards with ``replicas`` replicas each,
    from ``port``: shard ``i``'s read, write and replication-master ports are ``port + 3i``,
    ``+ 1`` and ``+ 2``; replica ``r`` of shard ``i`` reads at ``port + 3 * shards + r *
    shards + i``."""

    root: Path
    shards: int
    replicas: int
    port: int

    def primary(self, i: int) -> Path:
        return self.root / "primary" / f"shard-{i}"

    def replica(self, r: int, i: int) -> Path:
        return self.root / f"replica-{r}" / f"shard-{i}"

    def ports(self, i: int) -> tuple[int, int, int]:
        base = self.port + 3 * i
        return base, base + 1, base + 2

    def replica_port(self, r: int, i: int) -> int:
        return self.port + 3 * self.shards + r * self.shards + i

    def all_ports(self) -> list[int]:
        ports = [p for i in range(self.shards) for p in self.ports(i)]
        ports += [self.replica_port(r, i) for r in range(self.replicas) for i in range(self.shards)]
        return ports

    def value(self) -> list[Shard]:
        return [Shard((HOST, self.ports(i)[0]), (HOST, self.ports(i)[1]),
                      tuple((HOST, self.replica_port(r, i)) for r in range(self.replicas)))
                for i in range(self.shards)]


def _check_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise ClusterError(f"not installed: {', '.join(missing)} (Debian: apt-get install "
                           "xapian-tools)")


def _check_ports(ports: list[int]) -> None:
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((HOST, port))
            except OSError:
                raise ClusterError(f"port {port} on {HOST} is in use: give another --port")


def _create(path: Path) -> None:
    """An empty Xapian database at ``path`` if there is none."""
    if (path / "iamglass").exists() or (path / "iamchert").exists():
        return
    try:
        import xapian
    except ImportError:
        raise ClusterError("the Xapian Python bindings are missing: pip install "
                           "'.[xapian]'") from None
    path.mkdir(parents=True, exist_ok=True)
    db = xapian.WritableDatabase(str(path), xapian.DB_CREATE_OR_OPEN)
    db.commit()
    db.close()


def _wait_listening(port: int, proc: subprocess.Popen, what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ClusterError(f"{what} stopped at once (exit {proc.returncode})")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ClusterError(f"{what} did not listen on {HOST}:{port} within {seconds:g} s")


class Cluster:
    """The processes of one local cluster; ``stop()`` ends them all."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, args: list[str], env: dict | None = None) -> subprocess.Popen:
        """Start one server, its messages to ``DIR/logs/<n>-<program>.log``."""
        logs = self.layout.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{len(self.procs)}-{args[0]}.log", "ab") as log:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    env={**os.environ, **(env or {})}, start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> list[Shard]:
        layout = self.layout
        _check_tools()
        _check_ports(layout.all_ports())
        try:
            for i in range(layout.shards):
                primary = layout.primary(i)
                _create(primary)
                read, write, master = layout.ports(i)
                # changesets kept for the replicas to catch up with
                env = {"XAPIAN_MAX_CHANGESETS": "100"} if layout.replicas else {}
                # the writer waits WRITER_TIMEOUT_MS for the next message of an ingest that
                # is busy reading and analysing its next batch (the default, 15 s between the
                # messages of a running write, cut off ingests on a busy machine)
                proc = self._spawn(["xapian-tcpsrv", "--quiet", "--writable", "--timeout",
                                    str(WRITER_TIMEOUT_MS), "--interface", HOST, "--port",
                                    str(write), str(primary)], env)
                _wait_listening(write, proc, f"shard {i}'s writer")
                proc = self._spawn(["xapian-tcpsrv", "--quiet", "--interface", HOST, "--port",
                                    str(read), str(primary)])
                _wait_listening(read, proc, f"shard {i}'s reader")
                if layout.replicas:
                    proc = self._spawn(["xapian-replicate-server", "-I", HOST, "-p",
                                        str(master), str(primary.parent)])
                    _wait_listening(master, proc, f"shard {i}'s replication master")
            for r in range(layout.replicas):
                for i in range(layout.shards):
                    self._start_replica(r, i)
        except BaseException:
            self.stop()
            raise
        return layout.value()

    def _start_replica(self, r: int, i: int) -> None:
        layout = self.layout
        target = layout.replica(r, i)
        target.parent.mkdir(parents=True, exist_ok=True)
        master = str(layout.ports(i)[2])
        name = layout.primary(i).name
        first = subprocess.run(["xapian-replicate", "-h", HOST, "-p", master, "-m", name,
                                "--one-shot", "-q", "-r", "0", str(target)],
                               capture_output=True, text=True, timeout=60)
        if first.returncode != 0:
            raise ClusterError(f"replica {r} of shard {i} could not be copied: "
                               f"{first.stderr.strip()[-300:]}")
        self._spawn(["xapian-replicate", "-h", HOST, "-p", master, "-m", name, "-q",
                     "-i", str(REPLICATE_SECONDS), "-r", "0", str(target)])
        port = layout.replica_port(r, i)
        proc = self._spawn(["xapian-tcpsrv", "--quiet", "--interface", HOST, "--port",
                            str(port), str(target)])
        _wait_listening(port, proc, f"replica {r} of shard {i}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()

    def dead(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is not None]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m search.cluster",
                                 description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a local cluster; stop it with SIGTERM or Ctrl-C")
    start.add_argument("dir", type=Path)
    start.add_argument("--shards", type=int, default=3)
    start.add_argument("--replicas", type=int, default=0)
    start.add_argument("--port", type=int, default=DEFAULT_PORT)
    folders = sub.add_parser(
        "folders", help="print the NEWS_SHARDS value naming the primaries' folders of a "
                        "cluster in DIR, for ingest.py to build them directly (a bulk load, "
                        "before `start`)")
    folders.add_argument("dir", type=Path)
    folders.add_argument("--shards", type=int, default=3)
    args = ap.parse_args(argv)
    if args.command == "folders":
        if not 1 <= args.shards <= 64:
            print("cluster: --shards must be 1-64", file=sys.stderr)
            return 2
        layout = Layout(args.dir.resolve(), args.shards, 0, DEFAULT_PORT)
        print(shards_value([Shard(path=str(layout.primary(i))) for i in range(args.shards)]))
        return 0
    if not 1 <= args.shards <= 64 or not 0 <= args.replicas <= 4:
        print("cluster: --shards must be 1-64 and --replicas 0-4", file=sys.stderr)
        return 2
    layout = Layout(args.dir.resolve(), args.shards, args.replicas, args.port)
    if not 1024 <= args.port or max(layout.all_ports()) > 65535:
        print("cluster: the ports must be from 1024 to 65535", file=sys.stderr)
        return 2
    cluster = Cluster(layout)
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        shards = cluster.start()
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 2
    print(shards_value(shards), flush=True)
    print(f"cluster: {args.shards} shard(s), {args.replicas} replica(s) each, in {layout.root} "
          f"on {HOST}; writers at each shard's read port + 1. Stop with Ctrl-C or SIGTERM.",
          file=sys.stderr, flush=True)
    reported: set[int] = set()
    try:
        while not stopping:
            # a server that stops is reported and the others keep serving, as in a real
            # cluster: the archive answers from the other shards, or from a replica
            for proc in cluster.dead():
                if proc.pid not in reported:
                    reported.add(proc.pid)
                    print(f"cluster: {' '.join(map(str, proc.args))} stopped (exit "
                          f"{proc.returncode}); the other servers keep running",
                          file=sys.stderr, flush=True)
            if len(reported) == len(cluster.procs):
                print("cluster: every server has stopped", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.2)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
