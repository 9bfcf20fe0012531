"""Machine load sampled during a run, so a report can show what else the CPUs were doing."""

from __future__ import annotations

import os
import threading
import time
from typing import Any


class SystemSampler:
    """Samples CPU (per core), memory and load every ``interval_s`` on a daemon thread."""

    def __init__(self, interval_s: float = 1.0):
        self.interval_s = interval_s
        self.samples: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        import psutil

        psutil.cpu_percent(percpu=True)  # the first call only primes the counters
        while not self._stop.wait(self.interval_s):
            per_cpu = psutil.cpu_percent(percpu=True)
            mem = psutil.virtual_memory()
            load1, _, _ = os.getloadavg()
            sample = {"ts": time.time(), "cpu_percent": round(sum(per_cpu) / len(per_cpu), 1),
                      "mem_used_mb": round((mem.total - mem.available) / 2**20, 1),
                      "mem_percent": mem.percent, "load1": load1}
            for i, v in enumerate(per_cpu):
                sample[f"cpu{i}_percent"] = v
            self.samples.append(sample)

    def start(self) -> SystemSampler:
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        if self._thread:
            self._thread.join(self.interval_s + 1)
        return self.samples
