"""Opening and creating the on-disk index, its ingest lock and its metadata.

An index directory holds one or more Whoosh indexes told apart by name (``news1``, ``news2`` ...)
and a ``CURRENT`` file naming the live one. A rebuild writes a new name beside the live one and
then replaces ``CURRENT`` atomically, so readers see either the old or the new index, whole.
``INGEST.lock`` is held (``flock``) by the one ingest that may write; the kernel releases it when
that process dies, so a killed ingest never leaves a lock that blocks the next one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage

from search.errors import IndexLocked, IndexNotFound, IndexWriteError
from search.schema import build_schema

log = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
LOCK_FILE = "INGEST.lock"
META_FILE = "META.json"
_NAME = re.compile(r"^news(\d+)$")


def default_index_dir() -> Path:
    return Path(os.environ.get("NEWS_INDEX") or "index")


def current_name(directory: Path) -> str | None:
    try:
        name = (directory / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name if _NAME.match(name) else None


def exists(directory: Path) -> bool:
    name = current_name(directory)
    return name is not None and whoosh_index.exists_in(str(directory), indexname=name)


def open_index(directory: Path):
    """The live index in ``directory``; ``IndexNotFound`` if nothing was ingested there."""
    name = current_name(directory)
    if name is None or not whoosh_index.exists_in(str(directory), indexname=name):
        raise IndexNotFound(f"no index in {directory} (run: python ingest.py --index {directory} PATH)")
    _allow_open_files()
    return whoosh_index.open_dir(str(directory), indexname=name)


OPEN_FILES = 65_536


def _allow_open_files() -> None:
    """Segments are written as separate files (see ``search.engines.whoosh.indexer``): a reader keeps about
    ten open per segment, a thousand at a million articles. Raise this process's soft limit
    on open files (1,024 on many systems) towards its hard limit."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):
        pass  # elsewhere, or not allowed: keep the limit


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)  # a failed write (a full disk) leaves no temporary file behind
        raise
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def _next_name(directory: Path) -> str:
    numbers = [int(m.group(1)) for f in os.listdir(directory)
               for m in [re.match(r"^_?news(\d+)_", f)] if m]
    current = current_name(directory)
    if current:
        numbers.append(int(_NAME.match(current).group(1)))
    return f"news{max(numbers, default=0) + 1}"


def create_index(directory: Path, make_current: bool, stories: bool = True) \
        -> tuple[object, str]:
    """A new, empty index under a fresh name; made live at once only if ``make_current``;
    without stories (format 3) if not ``stories``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        name = _next_name(directory)
        ix = FileStorage(str(directory)).create_index(build_schema(stories), indexname=name)
        if make_current:
            _write_atomically(directory / CURRENT_FILE, name + "\n")
    except OSError as exc:
        raise IndexWriteError(f"cannot create an index in {directory}: {exc.strerror or exc}") from exc
    return ix, name


def make_current(directory: Path, name: str) -> str | None:
    """Make ``name`` the live index and delete the files of the one it replaces."""
    old = current_name(directory)
    _write_atomically(directory / CURRENT_FILE, name + "\n")
    if old and old != name:
        remove_index_files(directory, old)
    return old


def remove_index_files(directory: Path, name: str) -> None:
    pattern = re.compile(rf"^_?{re.escape(name)}_")
    for f in os.listdir(directory):
        if pattern.match(f):
            with contextlib.suppress(OSError):
                os.remove(directory / f)
    shutil.rmtree(directory / f"{name}.tmp", ignore_errors=True)


def remove_orphans(directory: Path) -> list[str]:
    """Delete what killed writers left: the files of indexes that are not live (an interrupted
    rebuild) and Whoosh's temporary folders. Call only while holding the ingest lock."""
    live = current_name(directory)
    names = {m.group(1) for f in os.listdir(directory)
             for m in [re.match(r"^_?(news\d+)(?:_|\.tmp$)", f)] if m}
    orphans = sorted(n for n in names if n != live)
    for name in orphans:
        remove_index_files(directory, name)
    if live:
        shutil.rmtree(directory / f"{live}.tmp", ignore_errors=True)
    return orphans


@contextlib.contextmanager
def ingest_lock(directory: Path, timeout: float = 30.0) -> Iterator[None]:
    """Hold the index's ingest lock; wait up to ``timeout`` seconds, then ``IndexLocked``."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexWriteError(f"cannot write to {directory}: {exc.strerror or exc}") from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    raise IndexLocked(
                        f"another ingest is writing to {directory}{holder}; waited {timeout:g}s. "
                        "Try again when it has finished.") from None
                time.sleep(0.2)
        previous = _read_holder(fd)
        if previous:
            # A finished ingest clears its pid; one that is still written here was killed.
            log.warning("a previous ingest%s stopped before finishing (killed or failed); its "
                        "lock is free again. Batches it committed are kept; re-run it to "
                        "complete the job.", previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""


def read_meta(directory: Path) -> dict:
    try:
        return json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def write_meta(directory: Path, **values) -> None:
    meta = read_meta(directory)
    meta.update(values)
    meta["last_ingest"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    _write_atomically(directory / META_FILE, json.dumps(meta, indent=1) + "\n")
