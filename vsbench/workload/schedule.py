"""Open-loop schedules: when each request is sent, fixed before the run from a spec and a seed.

A :class:`Schedule` is a sorted tuple of send offsets in seconds from the run's start; a sender
fires request ``i`` at ``offsets[i]`` whatever the responses do. Building one is pure and
deterministic: the same :class:`WorkloadSpec` (seed included) gives the same offsets, and the
only I/O is reading a trace CSV.

Patterns (``t`` in seconds; ``D`` = ``duration_s``, ``N`` = ``max_requests``):

``steady``
    ``t_i = i / rate`` for ``i = 0, 1, ...``: the first request at 0, no randomness.
``poisson``
    A homogeneous Poisson process from 0: ``t_i = S_i / rate`` where ``S_i`` is the running
    sum of ``i + 1`` standard exponential draws of ``numpy.random.default_rng(seed)``. The
    first request comes after one exponential gap, not at 0.
``burst``
    Bursts start at ``0, T, 2T, ...`` (``T = burst_every_s``; one burst at 0 when it is
    None) while the start is ``< D``; each burst is ``burst_size`` requests at the same
    instant, or, with ``burst_spread_s = W > 0``, at ``start + W u`` with ``u`` uniform on
    [0, 1) from ``default_rng(seed)``, drawn burst after burst.
``ramp``
    An inhomogeneous Poisson process whose rate goes linearly from ``start_rate`` (``a``) at
    0 to ``end_rate`` (``b``) at ``D``, by time rescaling: with ``Λ(t) = a t + k t² / 2``,
    ``k = (b - a) / D``, the unit-rate arrivals ``S_i`` of ``default_rng(seed)`` (as for
    ``poisson``) map to ``t_i = Λ⁻¹(S_i) = 2 S_i / (a + sqrt(a² + 2 k S_i))`` while
    ``S_i < Λ(D)``. With ``a == b`` it is exactly ``poisson`` at that rate and seed.
``trace``
    Replays one function of an Azure Functions 2019 per-minute CSV (see
    :mod:`.azure_trace`), from minute ``trace_start_minute`` on. Each minute's count ``c``
    is first scaled by ``rate_scale`` with stochastic rounding (``floor(c s)``, plus one with
    probability ``frac(c s)``, the draw for minute ``m`` being the ``m``-th of
    ``default_rng([seed, 0])``); its arrivals fall uniformly at random within the minute
    (``default_rng([seed, 1, m])`` for minute ``m``, so a minute's arrivals do not depend on
    the others or on the bounds). Replay time = trace time / ``time_scale``.

Every pattern then keeps the offsets ``< D`` (when ``duration_s`` is set) and the first
``N`` (when ``max_requests`` is set); at least one of the two bounds is required (``ramp``
needs ``duration_s``). A schedule with no request at all is an error: a run that sends
nothing measures nothing.

The random streams are numpy's ``Generator`` (PCG64); numpy does not promise those streams
across releases, so a schedule is reproducible under the pinned environment, and its
:meth:`Schedule.fingerprint` records which offsets a run used.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VsbError
from .azure_trace import MINUTES_PER_DAY, TraceError, read_trace_row

PATTERNS = ("steady", "poisson", "burst", "ramp", "trace")
REPO = Path(__file__).resolve().parents[2]

#: Largest schedule built; beyond it a spec is almost surely a unit mistake.
MAX_OFFSETS = 5_000_000

#: The fields only some patterns use (all others apply to every pattern).
PATTERN_FIELDS: dict[str, tuple[str, ...]] = {
    "steady": ("rate",),
    "poisson": ("rate",),
    "burst": ("burst_size", "burst_every_s", "burst_spread_s"),
    "ramp": ("start_rate", "end_rate"),
    "trace": ("trace_path", "trace_function", "trace_start_minute", "time_scale",
              "rate_scale"),
}


class WorkloadError(ValueError, VsbError):
    """A workload spec that cannot be built: which field, what is wrong, what to do."""


@dataclass(frozen=True)
class WorkloadSpec:
    """What to send: a pattern, its parameters, the bounds and the seed."""

    pattern: str  # steady | poisson | burst | ramp | trace
    duration_s: float | None = None  # bound in time (offsets >= it are dropped)
    max_requests: int | None = None  # bound in count (at least one bound is required)
    seed: int = 0
    rate: float | None = None  # steady/poisson: requests per second
    start_rate: float | None = None  # ramp: linear from start_rate to end_rate over duration_s
    end_rate: float | None = None
    burst_size: int | None = None  # burst: N requests at once ...
    burst_every_s: float | None = None  # ... repeated every T seconds (None: a single burst)
    burst_spread_s: float = 0.0  # spread a burst's sends uniformly over this window (seeded)
    trace_path: str | None = None  # trace: Azure Functions 2019 per-minute CSV
    trace_function: str | None = None  # HashFunction to replay; None = the busiest row
    trace_start_minute: int = 1  # first minute column to replay (1..1440)
    time_scale: float = 1.0  # trace seconds per replay second (60: a trace minute a second)
    rate_scale: float = 1.0  # multiply per-minute counts (stochastic rounding, seeded)
    description: str = ""  # free text, as regimes have; not used to build the schedule

    @classmethod
    def known_fields(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkloadSpec:
        """A validated spec from a mapping (a ``workloads:`` entry of the config)."""
        if not isinstance(d, dict):
            raise WorkloadError(f"a workload must be a mapping of fields, got {d!r}")
        known = cls.known_fields()
        unknown = [k for k in d if k not in known]
        if unknown:
            raise WorkloadError(f"unknown workload field(s) {', '.join(map(str, unknown))}; "
                                f"known fields: {', '.join(known)}")
        if "pattern" not in d:
            raise WorkloadError(f"missing field 'pattern' (one of {', '.join(PATTERNS)})")
        return cls(**d).validate()

    def validate(self) -> WorkloadSpec:
        """This spec if it can be built; else a :class:`WorkloadError` listing every problem."""
        problems: list[str] = []
        if self.pattern not in PATTERNS:
            raise WorkloadError(f"unknown pattern {self.pattern!r}; known patterns: "
                                f"{', '.join(PATTERNS)}")
        p = self.pattern

        def number(name: str, *, required: bool = False, minimum: float = 0.0,
                   strict: bool = True, unit: str = "") -> float | None:
            value = getattr(self, name)
            unit_note = f" ({unit})" if unit else ""
            if value is None:
                if required:
                    problems.append(f"pattern {p!r} needs {name}{unit_note}")
                return None
            if isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name} must be a number{unit_note}, got {value!r}")
                return None
            if not math.isfinite(value) or (value <= minimum if strict else value < minimum):
                problems.append(f"{name} must be {'>' if strict else '>='} {minimum:g}"
                                f"{unit_note}, got {value}")
                return None
            return float(value)

        def integer(name: str, *, minimum: int, maximum: int | None = None,
                    required: bool = False) -> int | None:
            value = getattr(self, name)
            if value is None:
                if required:
                    problems.append(f"pattern {p!r} needs {name}")
                return None
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append(f"{name} must be a whole number, got {value!r}")
                return None
            if value < minimum or (maximum is not None and value > maximum):
                rng = f"between {minimum} and {maximum}" if maximum is not None \
                    else f">= {minimum}"
                problems.append(f"{name} must be {rng}, got {value}")
                return None
            return value

        duration = number("duration_s", unit="seconds")
        count = integer("max_requests", minimum=1)
        integer("seed", minimum=0)
        if self.duration_s is None and self.max_requests is None:
            problems.append("no bound: set duration_s (seconds) and/or max_requests")

        foreign = dict.fromkeys(n for names in PATTERN_FIELDS.values() for n in names
                                if n not in PATTERN_FIELDS[p])
        for name in foreign:
            if getattr(self, name) != type(self).__dataclass_fields__[name].default:
                problems.append(f"{name} does not apply to pattern {p!r} (its fields: "
                                f"{', '.join(PATTERN_FIELDS[p])}); remove it")

        if p in ("steady", "poisson"):
            number("rate", required=True, unit="requests per second, e.g. rate: 1")
        elif p == "ramp":
            a = number("start_rate", required=True, strict=False,
                       unit="requests per second at offset 0")
            b = number("end_rate", required=True, strict=False,
                       unit="requests per second at duration_s")
            if self.duration_s is None:
                problems.append("pattern 'ramp' needs duration_s: the rate goes from "
                                "start_rate to end_rate over it")
            if a == 0 and b == 0:
                problems.append("start_rate and end_rate are both 0: nothing would be sent; "
                                "set end_rate > 0")
        elif p == "burst":
            integer("burst_size", minimum=1, required=True)
            every = number("burst_every_s", unit="seconds between burst starts")
            spread = number("burst_spread_s", strict=False)
            if every is not None and spread is not None and spread >= every:
                problems.append(f"burst_spread_s ({spread:g}) must be smaller than "
                                f"burst_every_s ({every:g}), or bursts would overlap")
        elif p == "trace":
            if self.trace_path is None:
                problems.append("pattern 'trace' needs trace_path (an Azure Functions 2019 "
                                "invocations CSV, e.g. "
                                "data/traces/azure-functions-2019-sample.csv)")
            elif not isinstance(self.trace_path, str | Path):
                problems.append(f"trace_path must be a path, got {self.trace_path!r}")
            if self.trace_function is not None and not isinstance(self.trace_function, str):
                problems.append(f"trace_function must be a HashFunction string, got "
                                f"{self.trace_function!r}")
            integer("trace_start_minute", minimum=1, maximum=MINUTES_PER_DAY)
            number("time_scale", unit="trace seconds per replay second")
            number("rate_scale", unit="factor on each minute's count")
        if not isinstance(self.description, str):
            problems.append(f"description must be text, got {self.description!r}")

        if not problems:
            expected = self._expected_count(duration, count)
            if expected > MAX_OFFSETS:
                problems.append(f"about {expected:.3g} requests (limit {MAX_OFFSETS}); "
                                "check the units: rates are per second, durations in seconds")
        if problems:
            raise WorkloadError(f"invalid {p} workload: " + "; ".join(problems))
        return self

    def _expected_count(self, duration: float | None, count: int | None) -> float:
        """Requests the spec asks for, before the count bound (trace: 0, checked later)."""
        p = self.pattern
        if p in ("steady", "poisson"):
            n = duration * self.rate if duration is not None else math.inf
        elif p == "ramp":
            n = duration * (self.start_rate + self.end_rate) / 2
        elif p == "burst":
            if self.burst_every_s is None:
                n = self.burst_size
            else:
                n = (duration / self.burst_every_s + 1) * self.burst_size \
                    if duration is not None else math.inf
        else:
            return 0.0
        return min(n, count) if count is not None else n


@dataclass(frozen=True)
class Schedule:
    """Send offsets (seconds from the run's start, sorted, >= 0) and the spec they came from."""

    offsets: tuple[float, ...]
    spec: WorkloadSpec

    def __len__(self) -> int:
        return len(self.offsets)

    def __iter__(self):
        return iter(self.offsets)

    def duration(self) -> float:
        """Seconds from the run's start to the last send (0.0 for an empty schedule); the
        spec's ``duration_s`` is the window, which the last send may fall short of."""
        return self.offsets[-1] if self.offsets else 0.0

    def to_lines(self) -> str:
        """One offset per line with 6 decimals, each line ending in a newline."""
        return "".join(f"{t:.6f}\n" for t in self.offsets)

    def fingerprint(self) -> str:
        """sha256 (hex) of :meth:`to_lines`: offsets rounded to the microsecond, so
        ``vsbench workload --dry-run | sha256sum`` gives the same digest."""
        return hashlib.sha256(self.to_lines().encode()).hexdigest()


# --- the patterns ---------------------------------------------------------------------------

_CHUNK = 4096


def _unit_arrivals(seed: int, limit: float, count: int | None) -> np.ndarray:
    """Arrival times of a unit-rate Poisson process: all ``< limit``, at most ``count``.

    Drawn in chunks but summed left to right from the previous total, so the times do not
    depend on the chunking: a longer run's schedule extends a shorter one's.
    """
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    last, n = 0.0, 0
    while (count is None or n < count) and last < limit:
        gaps = rng.standard_exponential(_CHUNK)
        times = np.cumsum(np.concatenate(([last], gaps)))[1:]
        parts.append(times)
        last, n = float(times[-1]), n + _CHUNK
    times = np.concatenate(parts) if parts else np.empty(0)
    times = times[times < limit]
    return times[:count] if count is not None else times


def _steady(s: WorkloadSpec) -> np.ndarray:
    n = s.max_requests if s.duration_s is None else math.ceil(s.duration_s * s.rate) + 1
    if s.max_requests is not None:
        n = min(n, s.max_requests)
    return np.arange(n, dtype=np.float64) / float(s.rate)


def _poisson(s: WorkloadSpec) -> np.ndarray:
    rate = float(s.rate)
    limit = s.duration_s * rate if s.duration_s is not None else math.inf
    return _unit_arrivals(s.seed, limit, s.max_requests) / rate


def _ramp(s: WorkloadSpec) -> np.ndarray:
    a, b, d = float(s.start_rate), float(s.end_rate), float(s.duration_s)
    k = (b - a) / d
    total = a * d + k * d * d / 2  # Λ(D)
    u = _unit_arrivals(s.seed, total, s.max_requests)
    # Λ⁻¹(u), the root of k t²/2 + a t - u = 0 in [0, D], in the form that stays exact for
    # k -> 0 (then t = u / a) and a = 0 (then t = sqrt(2 u / k)); a² + 2 k u >= b² >= 0.
    root = np.sqrt(np.maximum(a * a + 2.0 * k * u, 0.0))
    return 2.0 * u / (a + root)


def _burst(s: WorkloadSpec) -> np.ndarray:
    size = s.burst_size
    if s.burst_every_s is None:
        n_bursts = 1
    else:
        every = float(s.burst_every_s)
        n_bursts = math.inf
        if s.duration_s is not None:
            n_bursts = math.ceil(s.duration_s / every) + 1
        if s.max_requests is not None:
            n_bursts = min(n_bursts, math.ceil(s.max_requests / size))
    starts = np.arange(n_bursts, dtype=np.float64) * (s.burst_every_s or 0.0)
    if s.burst_spread_s > 0:
        jitter = np.random.default_rng(s.seed).random((n_bursts, size)) * s.burst_spread_s
        jitter.sort(axis=1)
        return (starts[:, None] + jitter).ravel()
    return np.repeat(starts, size)


def resolve_trace_path(path: str | Path) -> Path:
    """``path`` as given, or for a relative path not found from here, from the repo root."""
    p = Path(path)
    if p.is_absolute() or p.exists() or not (REPO / p).exists():
        return p
    return REPO / p


def _trace(s: WorkloadSpec) -> np.ndarray:
    row = read_trace_row(resolve_trace_path(s.trace_path), s.trace_function)
    last_minute = len(row.counts)
    first = s.trace_start_minute
    name = s.trace_function or f"{row.function} (the busiest row)"
    if first > last_minute:
        raise TraceError(f"trace_start_minute {first} is past the last minute column "
                         f"({last_minute}) of {s.trace_path}: no minutes left to replay; "
                         f"set it to 1..{last_minute}")
    counts = np.asarray(row.counts[first - 1:], dtype=np.float64) * s.rate_scale
    whole = np.floor(counts)
    u = np.random.default_rng([s.seed, 0]).random(last_minute)[first - 1:]
    counts = (whole + (u < counts - whole)).astype(np.int64)
    minute_s = 60.0 / s.time_scale  # replay seconds per trace minute
    n_minutes = len(counts)
    if s.duration_s is not None:
        n_minutes = min(n_minutes, math.ceil(s.duration_s / minute_s))
    if s.max_requests is not None:
        reach = np.cumsum(counts[:n_minutes])
        n_minutes = min(n_minutes, int(np.searchsorted(reach, s.max_requests)) + 1)
    counts = counts[:n_minutes]
    total = int(counts.sum())
    if total > MAX_OFFSETS:
        raise TraceError(f"the trace window holds {total} requests (limit {MAX_OFFSETS}); "
                         "lower rate_scale or duration_s")
    parts = [(j + np.random.default_rng([s.seed, 1, first + j]).random(int(c))) * minute_s
             for j, c in enumerate(counts) if c]
    if not parts:
        window = f"minutes {first}..{first + n_minutes - 1}"
        raise TraceError(f"trace function {name} has no invocations in {window} of "
                         f"{s.trace_path}; pick another trace_start_minute or trace_function, "
                         "a longer duration_s or a larger rate_scale")
    return np.concatenate(parts)


_BUILDERS = {"steady": _steady, "poisson": _poisson, "burst": _burst, "ramp": _ramp,
             "trace": _trace}


def build_schedule(spec: WorkloadSpec) -> Schedule:
    """The schedule of ``spec`` (validated first): sorted offsets within its bounds."""
    spec.validate()
    offsets = np.sort(_BUILDERS[spec.pattern](spec), kind="stable")
    if spec.duration_s is not None:
        offsets = offsets[offsets < spec.duration_s]
    if spec.max_requests is not None:
        offsets = offsets[:spec.max_requests]
    if len(offsets) == 0:
        raise WorkloadError(f"the {spec.pattern} workload schedules no request within its "
                            "bounds; raise the rate or duration_s")
    assert offsets[0] >= 0.0
    return Schedule(offsets=tuple(offsets.tolist()), spec=spec)


def spec_from_config(workloads: dict[str, Any] | None, name: str) -> WorkloadSpec:
    """The validated spec of ``config["workloads"][name]``."""
    workloads = workloads or {}
    if not isinstance(workloads, dict):
        raise WorkloadError("the config's workloads section must map names to workloads")
    if name not in workloads:
        raise WorkloadError(f"unknown workload {name!r}; config defines: "
                            f"{', '.join(map(str, workloads)) or 'none'}")
    try:
        return WorkloadSpec.from_dict(workloads[name])
    except WorkloadError as exc:
        raise WorkloadError(f"workload {name!r}: {exc}") from None
