"""Keep-alive policies as pure decisions: fixed, the hybrid histogram (ATC'20) and the
oracle."""

from __future__ import annotations

import random
import re

import pytest

from vsbench.platform.keepalive import (
    FixedKeepAlive,
    HistogramKeepAlive,
    OracleKeepAlive,
    Windows,
)


def test_fixed_is_todays_idle_timeout():
    assert FixedKeepAlive(30.0).windows() == Windows(0.0, 30.0, "fixed")
    assert FixedKeepAlive(None).windows().keepalive_s is None


def test_histogram_windows_from_clustered_idle_times():
    h = HistogramKeepAlive(bin_s=1.0, range_s=240.0)
    rng = random.Random(1)
    for _ in range(50):
        h.observe(30.0 + rng.random() * 3.0)  # every idle time in [30, 33)
    assert h.representative() and h.cv() > 2
    w = h.windows()
    # head: bin 30 (lower edge 30) less 10 % → 27; tail: bin 32 (upper edge 33) plus 10 %
    # → 36.3, rounded up to 37; the keep-alive window runs from 27 to 37
    assert w == Windows(27.0, 10.0, "histogram")


@pytest.mark.parametrize("feed, why", [
    ([30.0] * 5, "too few samples"),
    ([i * 2.4 for i in range(100)], "spread over the whole range: bin counts even"),
    ([1000.0] * 40 + [30.0] * 20, "most idle times beyond the range"),
])
def test_histogram_falls_back_when_unrepresentative(feed, why):
    h = HistogramKeepAlive(fallback_s=60.0)
    for x in feed:
        h.observe(x)
    assert h.windows() == Windows(0.0, 60.0, "fallback"), why


def test_histogram_rejects_bad_settings_and_input():
    with pytest.raises(ValueError):
        HistogramKeepAlive(bin_s=0)
    with pytest.raises(ValueError):
        HistogramKeepAlive(head_pct=99, tail_pct=5)
    with pytest.raises(ValueError):
        HistogramKeepAlive().observe(-1.0)


def test_oracle_keeps_a_replica_the_break_even_time_and_needs_hindsight():
    o = OracleKeepAlive(break_even_s=10.0)
    assert o.windows(1.0) == Windows(0.0, 10.0, "oracle") and o.hindsight
    assert not FixedKeepAlive(10.0).hindsight and not HistogramKeepAlive().hindsight
    with pytest.raises(ValueError):
        OracleKeepAlive(break_even_s=-1.0)


# --- the spec a regime gives, and the state the pool and the simulator share --------------
from vsbench.platform import keepalive as ka  # noqa: E402


def test_a_spec_is_checked_and_completed_with_every_parameter():
    spec = ka.check_spec({"policy": "histogram", "bin_s": 2})
    assert spec["policy"] == "histogram" and spec["bin_s"] == 2
    assert set(spec) == {"policy", *ka.HISTOGRAM_PARAMS}  # the report can state them all
    assert ka.check_spec(None) == {"policy": "fixed"}
    for bad, says in [({"policy": "lru"}, "keepalive.policy must be one of"),
                      ({"policy": "fixed", "bin_s": 1}, "has no parameter(s) ['bin_s']"),
                      ({"policy": "histogram", "bin_s": "wide"}, "keepalive.bin_s must be"),
                      ({"policy": "histogram", "head_pct": 99, "tail_pct": 5}, "head_pct")]:
        with pytest.raises(ValueError, match=re.escape(says)):
            ka.check_spec(bad)
    with pytest.raises(ValueError, match="vsbench simulate"):
        ka.build({"policy": "oracle"}, 10.0)  # no hindsight on a platform
    assert isinstance(ka.build({"policy": "oracle"}, 10.0, simulated=True), OracleKeepAlive)
    assert ka.build({"policy": "histogram"}, 30.0).fallback_s == 30.0


def test_state_under_fixed_is_the_idle_timeout_per_replica():
    s = ka.KeepAliveState(FixedKeepAlive(10.0))
    assert s.stop_at(5.0) == 15.0
    s.idle(5.0)
    assert not s.prewarm_due(6.0) and s.stop_at(5.0) == 15.0
    assert ka.KeepAliveState(FixedKeepAlive(None)).stop_at(5.0) == float("inf")


def test_state_under_histogram_stops_then_prewarms_before_the_expected_call():
    s = ka.KeepAliveState(HistogramKeepAlive(bin_s=1.0, range_s=20.0, min_samples=3,
                                             margin=0.1, fallback_s=60.0))
    t = 0.0
    s.idle(t)
    assert s.windows.mode == "fallback" and s.stop_at(t) == 60.0
    for _ in range(3):  # calls 10.5 s after the last one ended
        t += 10.5
        s.arrival(t)
        s.idle(t)  # a call of ~0 s
    # bin 10 → pre-warm from 9 s after the call (10 less 10 %), keep until 13 s (11 + 10 %
    # = 12.1, rounded up to 13)
    assert s.windows == Windows(9.0, 4.0, "histogram")
    assert s.stop_at(t) == t  # not kept through the pre-warm window
    assert not s.prewarm_due(t + 8.9) and s.prewarm_due(t + 9.0) and s.prewarm_due(t + 12.9)
    assert not s.prewarm_due(t + 13.0)  # the window closed with no call
    assert s.stop_at(t + 9.5, keep_until=s.prewarm_end) == t + 13.0
    s.arrival(t + 10.5)  # the call came: the window ends, the idle time is learnt
    assert not s.prewarm_due(t + 11.0) and sum(s.policy.counts) == 4
