"""The open-loop sender: request i leaves at its scheduled time, whatever earlier ones do.

Latency is measured from the *scheduled* time, so a slow system cannot hide its queueing
from the numbers (no coordinated omission). At most ``max_outstanding`` requests are in
flight; a request due while that many are outstanding is recorded as ``dropped``, never
silently skipped. Every request ends with exactly one terminal status:

- ``ok``: HTTP 200 and the application says ok;
- ``app_error``: the application failed (a stage's error, reported by the orchestrator);
- ``http_error``: the platform failed it (queue timeout, replica died, connection refused…);
- ``timeout``: no answer within ``request_timeout_s`` (or by the end of the run);
- ``dropped``: never sent (``max_outstanding`` reached).

With ``retries`` > 0 a request the platform answered 429, 502 or 503 (or the application
did, marking it ``retryable``; or whose connection was refused) is sent again after a
backoff (``Retry-After`` when given), as OpenFaaS's clients do, within its
``request_timeout_s``; ``attempts`` counts the POSTs, and latency still runs from the
scheduled time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

TERMINAL = ("ok", "app_error", "http_error", "timeout", "dropped")
# Error kinds the gateway itself answers with (the application never saw the request).
GATEWAY_KINDS = frozenset({"queue_timeout", "queue_full", "unavailable", "replica_failed",
                           "not_found", "unauthorized"})
SPIN_S = 0.002  # the last stretch before a send is spun (yielding), not slept: timer slack
RETRY_STATUS = frozenset({429, 502, 503})  # answers OpenFaaS clients retry (and no connection)
RETRY_BASE_S, RETRY_MAX_S = 0.5, 5.0  # backoff before retry n: 0.5 · 2^(n-1) s, at most 5 s


@dataclass
class RequestRecord:
    seq: int
    request_id: str
    scheduled_offset_s: float
    scheduled_ts: float  # epoch seconds
    warmup: bool = False
    sent_ts: float | None = None
    end_ts: float | None = None
    status: str = ""
    reason: str | None = None
    http_status: int | None = None
    latency_ms: float | None = None  # end - scheduled
    service_ms: float | None = None  # end - sent
    send_lag_ms: float | None = None  # sent - scheduled (schedule adherence)
    cold: bool | None = None  # the gateway's X-Vsb-Cold for the entry call
    replica_id: str | None = None
    attempts: int = 0  # POSTs sent (more than 1: retried, SenderConfig.retries)
    outputs: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("outputs")
        return d


@dataclass
class SenderConfig:
    url: str  # POST target, e.g. {gateway}/function/orchestrator
    max_outstanding: int = 64
    request_timeout_s: float = 300.0
    drain_timeout_s: float = 300.0  # after the last send, wait this long for answers
    lead_s: float = 0.2  # time between start() and offset 0
    retries: int = 0  # retries of a 429/502/503 or refused connection (OpenFaaS clients')
    headers: dict[str, str] = field(default_factory=dict)


def classify(status: int, body: Any) -> tuple[str, str | None]:
    """Terminal status and reason of an HTTP answer."""
    if status == 200 and isinstance(body, dict) and "outputs" in body:
        app = body["outputs"].get("status", "ok") if isinstance(body["outputs"], dict) else "ok"
        return ("ok", None) if app == "ok" else ("app_error", f"application status {app}")
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        kind = err.get("kind", "")
        msg = f"{kind}: {err.get('message', '')}".strip(": ")
        return ("http_error" if kind in GATEWAY_KINDS else "app_error"), msg
    return "http_error", f"HTTP {status} without an error body"


class OpenLoopSender:
    def __init__(self, cfg: SenderConfig, body_for: Callable[[RequestRecord], dict],
                 progress: Callable[[int, int, int], None] | None = None,
                 on_start: Callable[[float], None] | None = None):
        self.cfg = cfg
        self.on_start = on_start  # called with the epoch time of offset 0
        self.body_for = body_for
        self.progress = progress
        self.outstanding = 0
        self.done = 0

    async def _send(self, session: aiohttp.ClientSession, rec: RequestRecord,
                    sched_mono: float) -> None:
        sent_mono = time.perf_counter()
        rec.sent_ts = time.time()
        rec.send_lag_ms = (sent_mono - sched_mono) * 1000
        deadline = sent_mono + self.cfg.request_timeout_s
        try:
            while True:
                rec.attempts += 1
                wait = await self._attempt(session, rec, deadline)
                if wait is None or rec.attempts > self.cfg.retries:
                    break
                if time.perf_counter() + wait >= deadline:
                    break
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            rec.status, rec.reason = "timeout", "still outstanding when the run ended"
        end_mono = time.perf_counter()
        rec.end_ts = time.time()
        rec.latency_ms = (end_mono - sched_mono) * 1000
        rec.service_ms = (end_mono - sent_mono) * 1000
        self.outstanding -= 1
        self.done += 1

    async def _attempt(self, session: aiohttp.ClientSession, rec: RequestRecord,
                       deadline: float) -> float | None:
        """One POST; fills in the terminal status. Returns how long to wait before trying
        again when the answer is one an OpenFaaS client retries (429, 502, 503 from the
        platform, or one the application marks ``retryable``; no connection), else None."""
        headers = {"X-Vsb-Request-Id": rec.request_id, **self.cfg.headers}
        left = max(0.001, deadline - time.perf_counter())
        retry_after = None
        try:
            async with session.post(self.cfg.url, json=self.body_for(rec), headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=left)) as resp:
                raw = await resp.read()
                rec.http_status = resp.status
                rec.cold = resp.headers.get("X-Vsb-Cold") == "1" if "X-Vsb-Cold" in \
                    resp.headers else None
                rec.replica_id = resp.headers.get("X-Vsb-Replica")
                retry_after = resp.headers.get("Retry-After")
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            rec.status, rec.reason = classify(rec.http_status, body)
            if rec.status == "ok":
                rec.outputs = body["outputs"]
                return None
            err = body.get("error") if isinstance(body, dict) else None
            says_retry = isinstance(err, dict) and err.get("retryable") is True
            if rec.http_status not in RETRY_STATUS or not (
                    rec.status == "http_error" or says_retry):
                return None
        except TimeoutError:
            rec.status, rec.reason = "timeout", f"no answer within {self.cfg.request_timeout_s:g} s"
            return None
        except (aiohttp.ClientError, OSError) as exc:
            rec.http_status = None
            rec.status, rec.reason = "http_error", f"{type(exc).__name__}: {exc}"
        backoff = min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (rec.attempts - 1))
        try:
            return min(RETRY_MAX_S, float(retry_after)) if retry_after else backoff
        except ValueError:
            return backoff

    async def run(self, records: list[RequestRecord]) -> list[RequestRecord]:
        """Send every record at its ``scheduled_offset_s``; fill in its terminal status."""
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter() + self.cfg.lead_s
        wall0 = time.time() + self.cfg.lead_s
        for rec in records:
            rec.scheduled_ts = wall0 + rec.scheduled_offset_s
        if self.on_start:
            self.on_start(wall0)
        tasks: list[asyncio.Task] = []
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            for rec in records:
                due = t0 + rec.scheduled_offset_s
                delay = due - time.perf_counter() - SPIN_S
                if delay > 0:
                    await asyncio.sleep(delay)
                while time.perf_counter() < due:  # spin the last ms, yielding to answers
                    await asyncio.sleep(0)
                if self.outstanding >= self.cfg.max_outstanding:
                    rec.status = "dropped"
                    rec.reason = f"max_outstanding={self.cfg.max_outstanding} in flight"
                    self.done += 1
                    continue
                self.outstanding += 1
                tasks.append(loop.create_task(self._send(session, rec, due)))
                if self.progress:
                    self.progress(len(tasks), self.done, self.outstanding)
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self.cfg.drain_timeout_s)
                for t in pending:
                    t.cancel()
                if pending:
                    await asyncio.wait(pending)
        return records


def run_open_loop(cfg: SenderConfig, records: list[RequestRecord],
                  body_for: Callable[[RequestRecord], dict],
                  progress: Callable[[int, int, int], None] | None = None,
                  on_start: Callable[[float], None] | None = None) -> list[RequestRecord]:
    """Run the sender on its own event loop (uvloop when installed)."""
    from ..platform.gateway import new_event_loop

    loop = new_event_loop()
    try:
        sender = OpenLoopSender(cfg, body_for, progress, on_start)
        return loop.run_until_complete(sender.run(records))
    finally:
        loop.close()
