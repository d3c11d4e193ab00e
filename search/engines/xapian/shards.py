"""Opening a cluster's shards as one Xapian database, with failover and partial answers.

Each shard is served by ``xapian-tcpsrv`` (``search.cluster`` starts a local cluster); a
``NEWS_SHARDS`` value names each shard's read server and its replicas
(``search.cluster.parse_shards``). ``ShardSet.open`` connects to every shard: to its read
server, or when that does not answer, to its replicas in turn. A shard none of whose servers
answers is left out: the database holds the others and ``missing`` names it, and every answer
made from it says ``partial``. Xapian itself would fail the whole query on one dead shard.

A shard must answer within ``NEWS_SHARD_TIMEOUT`` (seconds, default 2) when the shards are
opened: one that does not (down, stopped, unreachable) is left out or replaced by its replica.
Once it has answered, a search gets the engine's time limit on it (``read_timeout``: the
search time limit and a second, at least ``NEWS_SHARD_TIMEOUT``), so that a search that is
slow because it matches much is refused by the time limit with its own message
(``SearchTimeout``), not taken for a shard that is down. A shard that falls silent during a
search is found when the shards are opened again (``retrying``) and left out. Setting
``NEWS_SHARD_TIMEOUT`` explicitly makes it the limit of every read. Writes (``ingest.py``)
have their own (``NEWS_SHARD_WRITE_TIMEOUT``, default 120: a batch's commit on a large shard
takes seconds).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import xapian

from search.cluster import Shard, parse_shards
from search.errors import SearchTimeout, ShardsUnavailable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0
# writes are not waited for by a reader: a batch's commit on a large shard takes seconds
DEFAULT_WRITE_TIMEOUT = 120.0
POOL_SIZE = 8


def shard_timeout() -> float:
    try:
        return float(os.environ.get("NEWS_SHARD_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def read_timeout_for(time_limit: float) -> float:
    """How long a search may wait for a shard that answered when opened: the search's time
    limit and a second (the shards stop matching at the limit, then send what they have), or
    ``NEWS_SHARD_TIMEOUT`` when it is set or longer."""
    if "NEWS_SHARD_TIMEOUT" in os.environ:
        return shard_timeout()
    return max(shard_timeout(), time_limit + 1.0 if time_limit > 0 else 0.0)


def write_timeout() -> float:
    try:
        return float(os.environ.get("NEWS_SHARD_WRITE_TIMEOUT", DEFAULT_WRITE_TIMEOUT))
    except ValueError:
        return DEFAULT_WRITE_TIMEOUT


def server_name(server: tuple[str, int]) -> str:
    return f"{server[0]}:{server[1]}"


@dataclass
class Opened:
    """One connection to every shard that answered, as one database."""

    db: xapian.Database
    servers: list[tuple[str, int]]  # the server each answering shard is read from
    missing: list[str]  # the shards (their read servers) that did not answer
    replicas: list[str] = field(default_factory=list)  # shards read from a replica

    @property
    def partial(self) -> bool:
        return bool(self.missing)


class ShardSet:
    def __init__(self, shards: list[Shard] | str, timeout: float | None = None,
                 read_timeout: float | None = None):
        self.shards = parse_shards(shards) if isinstance(shards, str) else list(shards)
        self.timeout = shard_timeout() if timeout is None else timeout
        self._read_timeout = read_timeout
        self._pool: list[Opened] = []
        self._lock = threading.Lock()

    @property
    def read_timeout(self) -> float:
        return self.timeout if self._read_timeout is None else self._read_timeout

    @read_timeout.setter
    def read_timeout(self, seconds: float) -> None:
        if seconds != self._read_timeout:
            self._read_timeout = seconds
            self.close()  # the pool's connections have the old one

    def describe(self) -> str:
        return ",".join(s.spec() for s in self.shards)

    def _connect(self, server: tuple[str, int]) -> xapian.Database:
        ms = max(1, int(self.timeout * 1000))
        read_ms = max(ms, int(self.read_timeout * 1000))
        if read_ms > ms:
            # Xapian's greeting waits the read timeout: a shard that accepts connections
            # but is silent (stopped, swamped) is found within NEWS_SHARD_TIMEOUT by a
            # connection of that timeout first
            probe = xapian.remote_open(server[0], server[1], ms, ms)
            probe.get_doccount()
            probe.close()
        db = xapian.remote_open(server[0], server[1], read_ms, ms)
        db.get_doccount()  # answers, not just accepts the connection
        return db

    def open(self) -> Opened:
        db = xapian.Database()
        servers, missing, replicas = [], [], []
        for shard in self.shards:
            if shard.path is not None:  # a shard's folder, opened directly
                try:
                    db.add_database(xapian.Database(shard.path))
                except xapian.Error as exc:
                    log.warning("shard %s: %s", shard.path, exc)
                    missing.append(shard.path)
                else:
                    servers.append((shard.path, 0))
                continue
            for i, server in enumerate((shard.read, *shard.replicas)):
                try:
                    sub = self._connect(server)
                except xapian.Error as exc:
                    log.warning("shard %s: %s", server_name(server), exc)
                    continue
                db.add_database(sub)
                servers.append(server)
                if i:
                    replicas.append(server_name(shard.read))
                break
            else:
                missing.append(server_name(shard.read))
        if not servers:
            raise ShardsUnavailable(
                f"no shard of the cluster answered ({', '.join(missing)}): start the cluster "
                "(python -m search.cluster start DIR) or check NEWS_SHARDS")
        return Opened(db, servers, missing, replicas)

    @contextlib.contextmanager
    def opened(self) -> Iterator[Opened]:
        """A database on the shards, up to date (``reopen``), used by one thread at a time;
        one that was partial, or whose shard fails meanwhile, is opened again."""
        with self._lock:
            got = self._pool.pop() if self._pool else None
        if got is not None:
            try:
                if got.partial or got.replicas:
                    raise xapian.NetworkError("try the shards that were missing again")
                got.db.reopen()
            except xapian.Error:
                got = None
        if got is None:
            got = self.open()
        ok = False
        try:
            yield got
            ok = True
        finally:
            if ok:
                with self._lock:
                    if len(self._pool) < POOL_SIZE:
                        self._pool.append(got)

    def close(self) -> None:
        with self._lock:
            self._pool.clear()


def retrying(shards: ShardSet, work):
    """``work(opened)``, once more on freshly opened shards if a shard fails meanwhile (the
    failed one is then left out or replaced by a replica). A shard that answered when opened
    again and still ran past the read timeout was slow because of the work asked of it:
    ``SearchTimeout``, as a search past its time limit."""
    for attempt in (1, 2):
        try:
            with shards.opened() as opened:
                return work(opened)
        except (xapian.NetworkError, xapian.DatabaseModifiedError) as exc:
            if attempt == 2:
                if isinstance(exc, xapian.NetworkTimeoutError):
                    raise SearchTimeout(
                        f"the cluster took longer than {shards.read_timeout:g}s to answer; make "
                        "the search more specific (fewer common words, a filter, a date "
                        "range)") from None
                raise ShardsUnavailable(f"the cluster failed while answering: {exc}") from None
            log.warning("a shard failed (%s); opening the shards again", exc)


def joined(databases) -> xapian.Database:
    """One database over ``databases`` (shards, or an ingest's writer connections)."""
    db = xapian.Database()
    for part in databases:
        db.add_database(part)
    return db
