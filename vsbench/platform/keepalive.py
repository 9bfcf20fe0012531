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
* :class:`OracleKeepAlive`: the offline optimum given the arrivals: after a call, keep the
  replica exactly until the next call when that comes within ``break_even_s`` (keeping it
  costs less than the cold start it saves), else stop it at once. The bound the others are
  measured against.

Every policy answers :meth:`windows` ``(t)`` at the end of a call at time ``t``: the
``Windows`` to apply until the next call.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Windows:
    prewarm_s: float  # after the call ends, no replica for this long (0: keep it)
    keepalive_s: float | None  # then one replica for this long (None: forever)
    mode: str  # fixed | histogram | fallback | oracle


@dataclass
class FixedKeepAlive:
    idle_timeout_s: float | None = 10.0

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
    counts: list[int] = field(default_factory=list)
    out_of_range: int = 0

    def __post_init__(self) -> None:
        if self.bin_s <= 0 or self.range_s < self.bin_s:
            raise ValueError("bin_s must be > 0 and range_s at least one bin")
        if not 0 <= self.head_pct < self.tail_pct <= 100:
            raise ValueError("0 <= head_pct < tail_pct <= 100")
        if not self.counts:
            self.counts = [0] * math.ceil(self.range_s / self.bin_s)

    def observe(self, idle_s: float) -> None:
        """One idle time: from the end of a call to the next call of the function."""
        if idle_s < 0:
            raise ValueError(f"an idle time cannot be negative: {idle_s}")
        i = int(idle_s // self.bin_s)
        if i >= len(self.counts):
            self.out_of_range += 1
        else:
            self.counts[i] += 1

    def cv(self) -> float:
        """Coefficient of variation of the bin counts (high: idle times cluster)."""
        n = len(self.counts)
        mean = sum(self.counts) / n
        if not mean:
            return 0.0
        var = sum((c - mean) ** 2 for c in self.counts) / n
        return math.sqrt(var) / mean

    def representative(self) -> bool:
        n = sum(self.counts)
        total = n + self.out_of_range
        return (n >= self.min_samples and self.cv() >= self.min_cv
                and self.out_of_range <= self.max_out_of_range * total)

    def _percentile_bin(self, pct: float) -> int:
        """The bin holding the ``pct`` percentile of the in-range idle times."""
        n = sum(self.counts)
        target = max(1, math.ceil(pct / 100 * n))
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= target:
                return i
        return len(self.counts) - 1

    def windows(self, t: float | None = None) -> Windows:
        if not self.representative():
            return Windows(0.0, self.fallback_s, "fallback")
        head = self._percentile_bin(self.head_pct) * self.bin_s  # the bin's lower edge
        tail = (self._percentile_bin(self.tail_pct) + 1) * self.bin_s  # its upper edge
        prewarm = math.floor(head * (1 - self.margin) / self.bin_s) * self.bin_s
        end = math.ceil(tail * (1 + self.margin) / self.bin_s) * self.bin_s
        return Windows(prewarm, max(self.bin_s, end - prewarm), "histogram")


@dataclass
class OracleKeepAlive:
    arrivals: list[float]  # every call's arrival time, any order
    break_even_s: float

    def __post_init__(self) -> None:
        self.arrivals = sorted(self.arrivals)
        if self.break_even_s < 0:
            raise ValueError("break_even_s must be >= 0")

    def observe(self, idle_s: float) -> None:
        pass

    def windows(self, t: float | None = None) -> Windows:
        """At a call's end ``t``: keep the replica until the next arrival if it comes within
        the break-even time, else stop it now (and start one only when it is needed)."""
        if t is None:
            raise ValueError("the oracle needs the time a call ended")
        i = bisect.bisect_right(self.arrivals, t)
        if i == len(self.arrivals):
            return Windows(0.0, 0.0, "oracle")  # no call ever again
        gap = self.arrivals[i] - t
        return Windows(0.0, gap if gap <= self.break_even_s else 0.0, "oracle")
