"""Open-loop workload schedules: exact offsets, determinism, bounds, validation, traces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from vsbench.errors import VsbError
from vsbench.workload.azure_trace import (
    ID_COLUMNS,
    TraceError,
    read_trace_row,
    synthetic_hash,
    write_synthetic_trace,
)
from vsbench.workload.schedule import (
    PATTERNS,
    Schedule,
    WorkloadError,
    WorkloadSpec,
    build_schedule,
    spec_from_config,
)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "traces" / "azure-functions-2019-sample.csv"
SAMPLE_REL = "data/traces/azure-functions-2019-sample.csv"
TIMER = synthetic_hash("function", "timer-5min")

# The workloads: section proposed for config/config.yaml; every entry must build.
PROPOSED = yaml.safe_load("""
workloads:
  steady-1rps:
    description: one request a second for a minute
    pattern: steady
    rate: 1
    duration_s: 60
  poisson-2rps:
    pattern: poisson
    rate: 2
    duration_s: 60
    seed: 1
  burst-4x30s:
    pattern: burst
    burst_size: 4
    burst_every_s: 30
    duration_s: 90
  ramp:
    pattern: ramp
    start_rate: 0.2
    end_rate: 4
    duration_s: 120
    seed: 1
  azure-trace:
    pattern: trace
    trace_path: data/traces/azure-functions-2019-sample.csv
    time_scale: 60
    duration_s: 60
    seed: 1
""")["workloads"]


def build(**kw) -> Schedule:
    return build_schedule(WorkloadSpec(**kw))


def sorted_in_bounds(s: Schedule) -> bool:
    o = s.offsets
    ok = all(a <= b for a, b in zip(o, o[1:], strict=False)) and all(t >= 0 for t in o)
    if s.spec.duration_s is not None:
        ok = ok and all(t < s.spec.duration_s for t in o)
    if s.spec.max_requests is not None:
        ok = ok and len(o) <= s.spec.max_requests
    return ok


# --- steady ---------------------------------------------------------------------------------

def test_steady_exact_offsets_and_bounds():
    assert build(pattern="steady", rate=2, duration_s=3).offsets == (0, .5, 1, 1.5, 2, 2.5)
    assert build(pattern="steady", rate=4, max_requests=3).offsets == (0, .25, .5)
    assert build(pattern="steady", rate=1, duration_s=60, max_requests=5).offsets == \
        (0, 1, 2, 3, 4)
    s = build(pattern="steady", rate=0.5, duration_s=10)
    assert s.offsets == (0, 2, 4, 6, 8) and len(s) == 5 and s.duration() == 8.0
    # seed plays no part in a steady schedule
    assert build(pattern="steady", rate=3, duration_s=2, seed=9).offsets == \
        build(pattern="steady", rate=3, duration_s=2).offsets


# --- poisson --------------------------------------------------------------------------------

def test_poisson_count_bounds_and_determinism():
    spec = WorkloadSpec(pattern="poisson", rate=50, duration_s=20, seed=3)
    a, b = build_schedule(spec), build_schedule(spec)
    assert a.offsets == b.offsets and a.fingerprint() == b.fingerprint()
    assert 1000 - 130 < len(a) < 1000 + 130  # mean 1000, sd ~32
    assert sorted_in_bounds(a) and a.offsets[0] > 0
    c = build(pattern="poisson", rate=50, duration_s=20, seed=4)
    assert c.offsets != a.offsets and c.fingerprint() != a.fingerprint()
    # the count bound takes a prefix of the same arrivals
    first = build(pattern="poisson", rate=50, max_requests=10, seed=3)
    assert len(first) == 10 and first.offsets == a.offsets[:10]
    short = build(pattern="poisson", rate=50, duration_s=5, seed=3)
    assert short.offsets == tuple(t for t in a.offsets if t < 5)


def test_poisson_both_bounds():
    s = build(pattern="poisson", rate=100, duration_s=1, max_requests=7)
    assert len(s) == 7 and sorted_in_bounds(s)


# --- burst ----------------------------------------------------------------------------------

def test_burst_exact_offsets():
    s = build(pattern="burst", burst_size=4, burst_every_s=30, duration_s=90)
    assert s.offsets == (0.0,) * 4 + (30.0,) * 4 + (60.0,) * 4
    assert build(pattern="burst", burst_size=3, duration_s=10).offsets == (0.0, 0.0, 0.0)
    assert build(pattern="burst", burst_size=4, burst_every_s=30, max_requests=6).offsets == \
        (0.0,) * 4 + (30.0,) * 2
    # duration_s excludes a burst that would start at it
    assert len(build(pattern="burst", burst_size=2, burst_every_s=30, duration_s=60)) == 4


def test_burst_spread_is_seeded_and_within_window():
    kw = dict(pattern="burst", burst_size=5, burst_every_s=10, burst_spread_s=2,
              duration_s=30)
    a, b = build(**kw, seed=1), build(**kw, seed=1)
    assert a.offsets == b.offsets and len(a) == 15
    for k, start in enumerate((0, 10, 20)):
        chunk = a.offsets[5 * k:5 * k + 5]
        assert all(start <= t < start + 2 for t in chunk)
    assert build(**kw, seed=2).offsets != a.offsets


# --- ramp -----------------------------------------------------------------------------------

def test_ramp_counts_and_increasing_rate():
    s = build(pattern="ramp", start_rate=1, end_rate=20, duration_s=20, seed=5)
    # expected 210 arrivals: 57.5 in the first half, 152.5 in the second
    assert 210 - 60 < len(s) < 210 + 60 and sorted_in_bounds(s)
    first = sum(t < 10 for t in s.offsets)
    assert first < len(s) - first
    assert build(pattern="ramp", start_rate=1, end_rate=20, duration_s=20, seed=5).offsets \
        == s.offsets
    assert build(pattern="ramp", start_rate=1, end_rate=20, duration_s=20, seed=6).offsets \
        != s.offsets
    down = build(pattern="ramp", start_rate=20, end_rate=0, duration_s=20, seed=5)
    assert sum(t < 10 for t in down.offsets) > len(down) / 2 and sorted_in_bounds(down)
    capped = build(pattern="ramp", start_rate=1, end_rate=20, duration_s=20, seed=5,
                   max_requests=12)
    assert capped.offsets == s.offsets[:12]


def test_flat_ramp_is_poisson():
    flat = build(pattern="ramp", start_rate=3, end_rate=3, duration_s=30, seed=8)
    assert flat.offsets == build(pattern="poisson", rate=3, duration_s=30, seed=8).offsets


# --- trace ----------------------------------------------------------------------------------

def test_sample_trace_regenerates_identically(tmp_path):
    out = write_synthetic_trace(tmp_path / "sample.csv", seed=0)
    assert out.read_bytes() == SAMPLE.read_bytes()
    assert SAMPLE.stat().st_size < 60_000


def test_sample_trace_rows():
    busiest = read_trace_row(SAMPLE)
    assert busiest.function == synthetic_hash("function", "http-diurnal")
    assert busiest.trigger == "http" and len(busiest.counts) == 1440
    timer = read_trace_row(SAMPLE, TIMER)
    assert timer.trigger == "timer" and timer.total == 288


def test_trace_replay_counts_per_minute():
    row = read_trace_row(SAMPLE)
    s = build(pattern="trace", trace_path=str(SAMPLE), time_scale=60, duration_s=60)
    assert len(s) == sum(row.counts[:60]) and sorted_in_bounds(s)
    for j in (0, 17, 59):  # trace minute j + 1 is replayed in second [j, j + 1)
        assert sum(j <= t < j + 1 for t in s.offsets) == row.counts[j]
    # a relative path resolves from the repo root too, and the seed moves arrivals only
    same = build(pattern="trace", trace_path=SAMPLE_REL, time_scale=60, duration_s=60)
    assert same.offsets == s.offsets
    other = build(pattern="trace", trace_path=SAMPLE_REL, time_scale=60, duration_s=60, seed=1)
    assert other.offsets != s.offsets and len(other) == len(s)


def test_trace_function_start_minute_and_bounds():
    s = build(pattern="trace", trace_path=str(SAMPLE), trace_function=TIMER, time_scale=60,
              duration_s=30, trace_start_minute=3)
    # minutes 3..32 hold the timer's minutes 6, 11, ..., 31: replay seconds 3, 8, ..., 28
    assert [int(t) for t in s.offsets] == [3, 8, 13, 18, 23, 28]
    capped = build(pattern="trace", trace_path=str(SAMPLE), max_requests=25, time_scale=60)
    assert len(capped) == 25 and sorted_in_bounds(capped)


def test_trace_rate_scale_stochastic_rounding():
    row = read_trace_row(SAMPLE)
    kw = dict(pattern="trace", trace_path=str(SAMPLE), time_scale=60, duration_s=120,
              rate_scale=0.5)
    a, b, c = build(**kw, seed=1), build(**kw, seed=1), build(**kw, seed=2)
    assert a.offsets == b.offsets and a.offsets != c.offsets
    whole = sum(n // 2 for n in row.counts[:120])
    odd = sum(n % 2 for n in row.counts[:120])
    assert whole <= len(a) <= whole + odd
    for j in range(120):  # each minute rounds c/2 down or up
        assert sum(j <= t < j + 1 for t in a.offsets) in (row.counts[j] // 2,
                                                           (row.counts[j] + 1) // 2)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


def test_trace_errors(tmp_path):
    with pytest.raises(TraceError, match="not found"):
        read_trace_row(tmp_path / "missing.csv")
    bad = write_csv(tmp_path / "bad.csv", ["HashOwner", "HashApp", "Trigger", "1", "3"],
                    [["o", "a", "http", "1", "2"]])
    with pytest.raises(TraceError, match=r"lacks column\(s\) HashFunction, 2"):
        read_trace_row(bad)
    three = write_csv(tmp_path / "three.csv", [*ID_COLUMNS, "1", "2", "3"],
                      [["o", "a", "f1", "http", "1", "0", "2"],
                       ["o", "a", "f2", "timer", "0", "0", "0"]])
    with pytest.raises(TraceError, match=r"no row has HashFunction 'nope' \(2 rows"):
        read_trace_row(three, "nope")
    with pytest.raises(TraceError, match="no minutes left"):
        build(pattern="trace", trace_path=str(three), trace_start_minute=5, max_requests=9)
    with pytest.raises(TraceError, match="no invocations"):
        build(pattern="trace", trace_path=str(three), trace_function="f2", max_requests=9)
    s = build(pattern="trace", trace_path=str(three), max_requests=9)
    assert len(s) == 3 and sorted_in_bounds(s)
    word = write_csv(tmp_path / "word.csv", [*ID_COLUMNS, "1"], [["o", "a", "f", "http", "x"]])
    with pytest.raises(TraceError, match="minute 1: 'x' is not a whole number"):
        read_trace_row(word)
    # trace errors are ValueErrors the CLI prints as one line
    assert issubclass(TraceError, ValueError) and issubclass(TraceError, VsbError)


# --- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize("d, message", [
    ({"pattern": "steady", "duration_s": 5}, "pattern 'steady' needs rate"),
    ({"pattern": "poisson", "rate": -1, "duration_s": 5}, "rate must be > 0"),
    ({"pattern": "steady", "rate": 1}, "no bound: set duration_s"),
    ({"pattern": "steady", "rate": 1, "duration_s": 5, "rat": 1},
     "unknown workload field(s) rat; known fields: pattern, duration_s"),
    ({"pattern": "zipf", "duration_s": 5}, "unknown pattern 'zipf'; known patterns: "
     + ", ".join(PATTERNS)),
    ({"rate": 1}, "missing field 'pattern'"),
    ({"pattern": "ramp", "start_rate": 1, "end_rate": 2, "max_requests": 5},
     "pattern 'ramp' needs duration_s"),
    ({"pattern": "ramp", "start_rate": 0, "end_rate": 0, "duration_s": 5}, "both 0"),
    ({"pattern": "burst", "duration_s": 5}, "pattern 'burst' needs burst_size"),
    ({"pattern": "burst", "burst_size": 2, "burst_every_s": 1, "burst_spread_s": 2,
      "duration_s": 5}, "bursts would overlap"),
    ({"pattern": "burst", "burst_size": 2, "rate": 3, "duration_s": 5},
     "rate does not apply to pattern 'burst'"),
    ({"pattern": "steady", "rate": "2/s", "duration_s": 5}, "rate must be a number"),
    ({"pattern": "steady", "rate": 1, "max_requests": 2.5}, "max_requests must be a whole"),
    ({"pattern": "steady", "rate": 1e6, "duration_s": 1e6}, "check the units"),
    ({"pattern": "trace", "duration_s": 5}, "pattern 'trace' needs trace_path"),
    ({"pattern": "trace", "trace_path": "x.csv", "duration_s": 5, "trace_start_minute": 0},
     "trace_start_minute must be between 1 and 1440"),
])
def test_validation_messages(d, message):
    with pytest.raises(WorkloadError) as exc:
        WorkloadSpec.from_dict(d)
    assert message in str(exc.value)
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, VsbError)


def test_build_validates_direct_specs():
    with pytest.raises(WorkloadError, match="needs rate"):
        build(pattern="poisson", duration_s=1)
    with pytest.raises(WorkloadError, match="no request"):
        build(pattern="poisson", rate=0.001, duration_s=0.01)


def test_spec_from_config_and_proposed_workloads():
    with pytest.raises(WorkloadError, match="unknown workload 'nope'; config defines: "
                       "steady-1rps, poisson-2rps, burst-4x30s, ramp, azure-trace"):
        spec_from_config(PROPOSED, "nope")
    with pytest.raises(WorkloadError, match="workload 'x': unknown workload field"):
        spec_from_config({"x": {"pattern": "steady", "rpm": 60}}, "x")
    sizes = {name: len(build_schedule(spec_from_config(PROPOSED, name))) for name in PROPOSED}
    assert sizes["steady-1rps"] == 60 and sizes["burst-4x30s"] == 12
    assert sizes["azure-trace"] == sum(read_trace_row(SAMPLE).counts[:60])
    assert all(n > 0 for n in sizes.values())


# --- output ---------------------------------------------------------------------------------

def test_to_lines_and_fingerprint():
    s = build(pattern="steady", rate=3, max_requests=3)
    assert s.to_lines() == "0.000000\n0.333333\n0.666667\n"
    assert s.fingerprint() == hashlib.sha256(s.to_lines().encode()).hexdigest()
    assert s.fingerprint() != build(pattern="steady", rate=3, max_requests=4).fingerprint()
