"""Append-only JSON Lines logs the platform keeps: scale events, replica lifecycles, calls."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class EventLog:
    """Keeps records in memory (bounded) and appends them to ``path`` if given."""

    def __init__(self, path: Path | None = None, keep: int = 10000):
        self.path = path
        self.keep = keep
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Opened once, line-buffered: a record is on disk when write() returns, without
            # an open/close per record on the gateway's event loop.
            self._fh = open(path, "a", buffering=1)

    def write(self, record: dict[str, Any]) -> dict[str, Any]:
        record.setdefault("ts", time.time())
        with self._lock:
            self.records.append(record)
            if len(self.records) > self.keep:
                del self.records[: len(self.records) - self.keep]
            if self._fh is not None:
                self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        return record

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def where(self, **match: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.records if all(r.get(k) == v for k, v in match.items())]


class PlatformLogs:
    """The platform's logs, in one folder."""

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.scale_events = EventLog(folder / "scale_events.jsonl" if folder else None)
        self.replicas = EventLog(folder / "replicas.jsonl" if folder else None)
        self.invocations = EventLog(folder / "gateway_invocations.jsonl" if folder else None)
        self.async_calls = EventLog(folder / "async_calls.jsonl" if folder else None)
        self.faults = EventLog(folder / "faults.jsonl" if folder else None)  # .faults

    def close(self) -> None:
        for log in (self.scale_events, self.replicas, self.invocations, self.async_calls,
                    self.faults):
            log.close()
