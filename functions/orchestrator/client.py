"""Calls functions through a gateway, OpenFaaS-style: ``POST {gateway}/function/{name}``.

Retryable failures (connection errors, 429, 502, 503, 504) are retried with exponential
backoff and full jitter, a bounded number of times. Stage outputs have deterministic keys, so
a retry overwrites what a failed attempt may have written: calls are idempotent.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass
class CallRecord:
    """One HTTP attempt at one function."""

    function: str
    clip: int | None
    attempt: int
    status: int | None  # None: no HTTP answer (connection error, timeout)
    wall_ms: float
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    sent_ts: float = 0.0
    cold: bool = False  # the gateway says it waited for a replica started for it
    queue_ms: float = 0.0  # time waiting in the gateway for a free replica
    replica_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function, "clip": self.clip, "attempt": self.attempt,
            "status": self.status, "wall_ms": round(self.wall_ms, 3), "sent_ts": self.sent_ts,
            "error": self.error, "cold": self.cold, "queue_ms": self.queue_ms,
            "replica_id": self.replica_id, "metrics": self.metrics,
        }


class StageFailed(Exception):
    """A stage failed for good (not retryable, or retries exhausted)."""

    def __init__(self, function: str, status: int | None, message: str, kind: str):
        super().__init__(f"{function}: {message}")
        self.function = function
        self.status = status
        self.kind = kind  # bad_input, timeout, http_error, ...


@dataclass
class RetryPolicy:
    max_attempts: int = 4
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1)))


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        retry: RetryPolicy | None = None,
        timeouts_s: dict[str, float] | None = None,
        default_timeout_s: float = 300.0,
        auth: tuple[str, str] | None = None,
        seed: int | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.timeouts_s = timeouts_s or {}
        self.default_timeout_s = default_timeout_s
        self.auth = auth
        self._local = threading.local()
        self._rng = random.Random(seed)
        self.records: list[CallRecord] = []
        self._records_lock = threading.Lock()

    def _session(self) -> requests.Session:
        # One keep-alive session per thread: requests.Session is not documented thread-safe.
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def _record(self, rec: CallRecord) -> None:
        with self._records_lock:
            self.records.append(rec)

    def call(self, function: str, envelope: dict[str, Any], clip: int | None = None) -> dict:
        """Invoke ``function``; return its outputs or raise :class:`StageFailed`."""
        url = f"{self.base_url}/function/{function}"
        timeout = self.timeouts_s.get(function, self.default_timeout_s)
        last = "no attempt made"
        for attempt in range(1, self.retry.max_attempts + 1):
            sent = time.time()
            t0 = time.perf_counter()
            try:
                resp = self._session().post(
                    url, json=envelope, timeout=(5.0, timeout), auth=self.auth,
                    headers={"X-Vsb-Request-Id": str(envelope.get("request_id", ""))})
            except requests.Timeout:
                wall = (time.perf_counter() - t0) * 1000
                self._record(CallRecord(function, clip, attempt, None, wall,
                                        error=f"timed out after {timeout:g} s", sent_ts=sent))
                raise StageFailed(function, None, f"timed out after {timeout:g} s",
                                  "timeout") from None
            except requests.ConnectionError as exc:
                wall = (time.perf_counter() - t0) * 1000
                last = f"connection error: {exc}"
                self._record(CallRecord(function, clip, attempt, None, wall, error=last,
                                        sent_ts=sent))
            else:
                wall = (time.perf_counter() - t0) * 1000
                try:
                    body = resp.json()
                except ValueError:
                    body = {"error": {"message": resp.text[:300] or resp.reason}}
                err = body.get("error") if isinstance(body, dict) else None
                message = (err or {}).get("message") if isinstance(err, dict) else str(err)
                self._record(CallRecord(
                    function, clip, attempt, resp.status_code, wall,
                    metrics=body.get("metrics", {}) if isinstance(body, dict) else {},
                    error=message, sent_ts=sent, cold=resp.headers.get("X-Vsb-Cold") == "1",
                    queue_ms=float(resp.headers.get("X-Vsb-Queue-Ms") or 0.0),
                    replica_id=resp.headers.get("X-Vsb-Replica")))
                if resp.status_code == 200 and isinstance(body, dict) and "outputs" in body:
                    return body["outputs"]
                last = f"HTTP {resp.status_code}: {message}"
                if resp.status_code not in RETRYABLE_STATUS:
                    kind = (err or {}).get("kind", "http_error") if isinstance(err, dict) \
                        else "http_error"
                    raise StageFailed(function, resp.status_code, message or last, kind)
            if attempt < self.retry.max_attempts:
                time.sleep(self.retry.delay(attempt, self._rng))
        raise StageFailed(function, None,
                          f"failed after {self.retry.max_attempts} attempts; last: {last}",
                          "retries_exhausted")
