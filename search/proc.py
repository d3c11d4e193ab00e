"""Helper processes of an ingest (writer and extraction processes) that die with it."""

from __future__ import annotations

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
