"""``GET /system/logs``: a function's replica log files as OpenFaaS log entries (NDJSON).

Every provider writes a replica's output to ``<log_dir>/<replica_id>.log`` (replica ids are
``<function>-<n>``). A line carries no time of its own, so an entry's ``timestamp`` is the
time its file was last written: ``since`` filters whole files, ``tail`` counts lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def parse_since(text: str | None) -> float | None:
    """Epoch seconds from RFC 3339 (``2026-12-02T05:00:00Z``); ValueError if not."""
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def replica_logs(log_dir: Path | None, pool_name: str,
                 instance: str | None = None) -> list[Path]:
    """The log files of a function's replicas, oldest first."""
    if log_dir is None or not log_dir.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(pool_name)}-\d+\.log$")
    files = [p for p in log_dir.iterdir() if pattern.match(p.name)
             and (instance is None or p.stem == instance)]
    return sorted(files, key=lambda p: p.stat().st_mtime)


def entries(files: list[Path], name: str, namespace: str, since: float | None = None,
            tail: int = 0, offsets: dict[Path, int] | None = None) -> Iterator[dict]:
    """Log entries of ``files``; with ``offsets``, only what was written after them (and the
    offsets move on: how ``follow`` streams)."""
    out: list[dict] = []
    for path in files:
        try:
            stat = path.stat()
            if since is not None and stat.st_mtime < since:
                continue
            with open(path, "rb") as fh:
                if offsets is not None:
                    fh.seek(offsets.get(path, 0))
                data = fh.read()
                if offsets is not None:
                    offsets[path] = fh.tell()
        except OSError:
            continue
        for line in data.decode(errors="replace").splitlines():
            out.append({"name": name, "namespace": namespace, "instance": path.stem,
                        "timestamp": _iso(stat.st_mtime), "text": line})
    if tail > 0:
        out = out[-tail:]
    yield from out
