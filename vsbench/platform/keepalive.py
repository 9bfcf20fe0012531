"""Keep-alive policies: how long an idle replica stays, and whether one is started again
before the next call (issue 14). Pure decisions, no I/O: the scaling pool and the simulator
are to share this one implementation.

* :class:`FixedKeepAlive`: today's idle timeout (``None``: never scale down).
* :class:`HistogramKeepAlive`: the hybrid histogram policy of Shahrad et al., "Serverless in
  the Wild" (ATC'20), in seconds rather than minutes. Idle times (from the end of a call to
  the next call of the function) go into a histogram of ``bin_s`` bins over ``[0, range_s)``.
  When the histogram is representative (at least ``min_samples`` idle times in range, the
  coefficient of variation of its bin counts at least ``min_cv``: the idle times cluster, and
  at most ``max_out_of_range`` of them beyond the range), the **pre-warm window** is the
  ``head_pct`` percentile less a ``margin`` (rounded down to a bin edge: no replica is kept
  for that long after a call) and the **keep-alive window** runs from there to the
  ``tail_pct`` percentile plus the margin (rounded up). Otherwise it falls back to a fixed
  keep-alive of ``fallback_s`` with no pre-warm (the paper uses ARIMA for idle times beyond
  the range; that is not done here: they count against representativeness).
* :class:`OracleKeepAlive`: the offline optimum: after a call, keep the replica until the
  next call it serves when that comes within ``break_even_s`` (keeping it costs less than the
  cold start it saves), else stop it at once. Only a simulation knows the next call: it keeps
  the replica ``break_even_s`` and, in hindsight, bills an idle period that ended in a stop as
  none (the replica stopped when it went idle; nothing else differs, since no call came).
  The bound the others are measured against.

Every policy answers :meth:`windows` ``(t)`` at the end of a call at time ``t``: the
``Windows`` to apply until the next call.

:class:`KeepAliveState` applies a policy to one function's replicas; the scaling pool
(:mod:`.scaling`, on the monotonic clock) and the simulator (:mod:`vsbench.sim`, on simulated
time) both ask it the same questions, so both run one implementation:

* the function **goes idle** (nothing in flight, nothing waiting) at ``t``: the policy's
  windows for ``t`` apply from then on; with a pre-warm window, one replica is due from
  ``t + prewarm_s`` until ``t + prewarm_s + keepalive_s`` (:meth:`~KeepAliveState.prewarm_due`);
* a call **arrives** while the function is idle: the idle time goes into the policy;
* a replica idle since ``last_active`` is stopped at :meth:`~KeepAliveState.stop_at` (never
  below ``min_replicas``: the caller's rule): ``last_active + keepalive_s``, or at once when
  the windows pre-warm (the replica is not kept through the pre-warm window), or at the end
  of the window of a replica the window started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

KEEPALIVE_POLICIES = ("fixed", "histogram", "oracle")


@dataclass(frozen=True)
class Windows:
    prewarm_s: float  # after the call ends, no replica for this long (0: keep it)
    keepalive_s: float | None  # then one replica for this long (None: forever)
    mode: str  # fixed | histogram | fallback | oracle


@dataclass
class FixedKeepAlive:
    idle_timeout_s: float | None = 10.0
    hindsight = False  # the oracle's: see OracleKeepAlive

    def observe(self, idle_s: float) -> None:
        pass

    def windows(self, t: float | None = None) -> Windows:
        return Windows(0.0, self.idle_timeout_s, "fixed")


@dataclass
class HistogramKeepAlive:
    bin_s: float = 1.0
    range_s: float = 240.0
    head_pct: float = 5.0
    tail_pct: float = 99.0
    margin: float = 0.10
    min_samples: int = 10
    min_cv: float = 2.0
    max_out_of_range: float = 0.5
    fallback_s: float = 60.0
    hindsight = False
    counts: list[int] = field(default_factory=list)
    out_of_range: int = 0
    n: int = 0  # idle times in range (sum of counts), kept as they come
    sumsq: int = 0  # sum of squared counts (for the coefficient of variation)
    _cached: Windows | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.bin_s <= 0 or self.range_s < self.bin_s:
            raise ValueError("bin_s must be > 0 and range_s at least one bin")
        if not 0 <= self.head_pct < self.tail_pct <= 100:
            raise ValueError("0 <= head_pct < tail_pct <= 100")
        if not self.counts:
            self.counts = [0] * math.ceil(self.range_s / self.bin_s)
        self.n, self.sumsq = sum(self.counts), sum(c * c for c in self.counts)

    def observe(self, idle_s: float) -> None:
        """One idle time: from the end of a call to the next call of the function."""
        if idle_s < 0:
            raise ValueError(f"an idle time cannot be negative: {idle_s}")
        i = int(idle_s // self.bin_s)
        if i >= len(self.counts):
            self.out_of_range += 1
        else:
            c = self.counts[i]
            self.counts[i] = c + 1
            self.n += 1
            self.sumsq += 2 * c + 1
        self._cached = None

    def cv(self) -> float:
        """Coefficient of variation of the bin counts (high: idle times cluster)."""
        bins = len(self.counts)
        mean = self.n / bins
        if not mean:
            return 0.0
        var = max(0.0, self.sumsq / bins - mean * mean)
        return math.sqrt(var) / mean

    def representative(self) -> bool:
        n = self.n
        total = n + self.out_of_range
        return (n >= self.min_samples and self.cv() >= self.min_cv
                and self.out_of_range <= self.max_out_of_range * total)

    def _percentile_bin(self, pct: float) -> int:
        """The bin holding the ``pct`` percentile of the in-range idle times."""
        target = max(1, math.ceil(pct / 100 * self.n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= target:
                return i
        return len(self.counts) - 1

    def windows(self, t: float | None = None) -> Windows:
        if self._cached is None:  # the same until the next idle time is observed
            self._cached = self._windows()
        return self._cached

    def _windows(self) -> Windows:
        if not self.representative():
            return Windows(0.0, self.fallback_s, "fallback")
        head = self._percentile_bin(self.head_pct) * self.bin_s  # the bin's lower edge
        tail = (self._percentile_bin(self.tail_pct) + 1) * self.bin_s  # its upper edge
        prewarm = math.floor(head * (1 - self.margin) / self.bin_s) * self.bin_s
        end = math.ceil(tail * (1 + self.margin) / self.bin_s) * self.bin_s
        return Windows(prewarm, max(self.bin_s, end - prewarm), "histogram")


@dataclass
class OracleKeepAlive:
    """Keep an idle replica ``break_even_s`` (as fixed), and in hindsight stop at once every
    replica whose idle period ended without a call: what a policy that knows each replica's
    next call does (keep it only when that call comes within the break-even time)."""

    break_even_s: float
    hindsight = True  # the simulator bills an idle period that ended in a stop as zero

    def __post_init__(self) -> None:
        if self.break_even_s < 0:
            raise ValueError("break_even_s must be >= 0")

    def observe(self, idle_s: float) -> None:
        pass

    def windows(self, t: float | None = None) -> Windows:
        return Windows(0.0, self.break_even_s, "oracle")


# histogram parameters a regime may set (``keepalive: {policy: histogram, ...}``); the fixed
# fallback is the regime's ``idle_timeout_s``
HISTOGRAM_PARAMS = ("bin_s", "range_s", "head_pct", "tail_pct", "margin", "min_samples",
                    "min_cv", "max_out_of_range")
ORACLE_PARAMS = ("break_even_s",)


def check_spec(spec: dict[str, Any] | None) -> dict[str, Any]:
    """A regime's ``keepalive`` mapping, checked (ValueError naming the key) and completed
    with the defaults, so a run's policy states every parameter."""
    spec = dict(spec or {})
    name = spec.pop("policy", "fixed")
    if name not in KEEPALIVE_POLICIES:
        raise ValueError(f"keepalive.policy must be one of {', '.join(KEEPALIVE_POLICIES)}, "
                         f"got {name!r}")
    allowed = {"fixed": (), "histogram": HISTOGRAM_PARAMS, "oracle": ORACLE_PARAMS}[name]
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise ValueError(f"keepalive policy {name} has no parameter(s) {unknown}; it has "
                         f"{list(allowed) or 'none'}")
    for k, v in spec.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"keepalive.{k} must be a number, got {v!r}")
    if name == "histogram":
        defaults = HistogramKeepAlive()
        spec = {k: spec.get(k, getattr(defaults, k)) for k in HISTOGRAM_PARAMS}
        HistogramKeepAlive(**spec)  # its own checks
    elif name == "oracle":
        spec = {"break_even_s": spec.get("break_even_s", 10.0)}
        if spec["break_even_s"] < 0:
            raise ValueError("keepalive.break_even_s must be >= 0")
    return {"policy": name, **spec}


def build(spec: dict[str, Any] | None, idle_timeout_s: float | None,
          simulated: bool = False):
    """The policy object of a checked ``keepalive`` spec. ``idle_timeout_s`` is the fixed
    timeout (and the histogram's fallback); the oracle needs hindsight, which only a
    simulation has."""
    spec = check_spec(spec)
    name = spec.pop("policy")
    if name == "fixed":
        return FixedKeepAlive(idle_timeout_s)
    if name == "histogram":
        return HistogramKeepAlive(**spec, fallback_s=idle_timeout_s)
    if not simulated:
        raise ValueError("keepalive policy oracle needs every future call of the function: it "
                         "runs in `vsbench simulate` only; use fixed or histogram here")
    return OracleKeepAlive(**spec)


class KeepAliveState:
    """One function's keep-alive under ``policy`` (see the module docstring). Times are the
    caller's clock (monotonic seconds or simulated seconds)."""

    __slots__ = ("policy", "idle_since", "windows", "prewarm_at", "prewarm_end")

    def __init__(self, policy) -> None:
        self.policy = policy
        self.idle_since: float | None = None
        self.windows = policy.windows(0.0)  # before any call: fixed, fallback or oracle
        self.prewarm_at = self.prewarm_end = math.inf

    def arrival(self, now: float) -> None:
        """A call arrived; if the function was idle, its idle time is observed."""
        if self.idle_since is not None:
            self.policy.observe(max(0.0, now - self.idle_since))
            self.idle_since = None
        self.prewarm_at = self.prewarm_end = math.inf

    def idle(self, now: float) -> None:
        """The function has nothing in flight and nothing waiting since ``now``."""
        self.idle_since = now
        w = self.windows = self.policy.windows(now)
        if w.prewarm_s > 0:
            self.prewarm_at = now + w.prewarm_s
            self.prewarm_end = math.inf if w.keepalive_s is None else (
                self.prewarm_at + w.keepalive_s)

    def stop_at(self, last_active: float, keep_until: float | None = None) -> float:
        """When a replica idle since ``last_active`` is stopped (inf: never).
        ``keep_until``: the end of the pre-warm window that started it, if one did."""
        if keep_until is not None:
            return keep_until
        w = self.windows
        if w.keepalive_s is None:
            return math.inf
        return last_active if w.prewarm_s > 0 else last_active + w.keepalive_s

    def prewarm_due(self, now: float) -> bool:
        """Whether one replica should be running now for the pre-warm window."""
        return self.prewarm_at <= now < self.prewarm_end
