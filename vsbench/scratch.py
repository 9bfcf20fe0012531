"""A run's scratch folder (``$TMPDIR/vsb-exp-*``): its platform state, its logs before they are
archived. The run removes it on every path it can see; SIGKILL gives it none, so each folder
holds an ``owner.lock`` (an exclusive ``flock`` for the run's whole life, dropped by the kernel
however the run ends) and the next run sweeps every folder whose lock nobody holds.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["Scratch", "sweep_stale", "PREFIX", "UNLOCKED_MAX_AGE_S"]

PREFIX = "vsb-exp-"
OWNER_LOCK = "owner.lock"
UNLOCKED_MAX_AGE_S = 3600.0  # folders from before owner locks: swept once this old


class Scratch:
    """A fresh scratch folder, locked by this process until :meth:`remove`."""

    def __init__(self, root: Path | str | None = None):
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
        self._fd: int | None = os.open(self.path / OWNER_LOCK,
                                       os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _owned(lock: Path) -> bool:
    """Does a live process hold ``lock``?"""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def sweep_stale(root: Path | str | None = None) -> list[Path]:
    """Remove the scratch folders of runs that are gone; returns them."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for folder in sorted(root.glob(f"{PREFIX}*")):
        lock = folder / OWNER_LOCK
        try:
            stale = (not _owned(lock)) if lock.exists() else (
                time.time() - folder.stat().st_mtime > UNLOCKED_MAX_AGE_S)
        except OSError:  # removed meanwhile
            continue
        if stale and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
