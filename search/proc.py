"""Helper processes of an ingest (writer and extraction processes) that die with it."""

from __future__ import annotations

import contextlib
import gc
import os
import signal


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so that a killed ingest
    leaves no helper process behind holding the ingest lock it inherited."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere: the process ends when its job is done
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


@contextlib.contextmanager
def forking():
    """Around a fork: the parent's objects (a batch of articles, the ingest's tables) are
    frozen (``gc.freeze``) while it forks, so that the child's garbage collector never walks
    them: without it, each full collection of a writer process walked the whole batch it
    had inherited and wrote to its pages (copied on write), about 10 s of CPU an ingest of
    100,000 articles. The parent's objects are unfrozen again once the child is started."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
