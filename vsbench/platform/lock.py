"""The platform's life as a lock: an exclusive ``flock`` on ``STATE_DIR/platform.lock``.

A running platform holds it from start to stop; the kernel drops it however the platform
ends, SIGKILL included. Two uses: a second platform on the same state folder is refused, and a
replica that cannot see the platform's pid (a container) learns it is gone by waiting for a
shared lock on the same file (``VSB_PARENT_LOCK``, functions/runtime/server.py).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import VsbError


class PlatformLock:
    def __init__(self, state_dir: Path):
        self.path = state_dir / "platform.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait_s: float = 5.0) -> PlatformLock:
        """Take the lock, waiting up to ``wait_s``: replicas of a platform that just died hold
        a shared lock for an instant while they notice it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise VsbError(
                        f"another platform is running on {self.path.parent} (it holds "
                        f"{self.path}); stop it with `vsbench platform down` or choose another "
                        f"folder with VSB_PLATFORM_DIR") from None
                time.sleep(0.05)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
