"""Keep-alive policies as pure decisions: fixed, the hybrid histogram (ATC'20) and the
oracle."""

from __future__ import annotations

import random

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


def test_oracle_keeps_only_until_a_next_call_worth_waiting_for():
    o = OracleKeepAlive(arrivals=[100.0, 0.0, 5.0], break_even_s=10.0)
    assert o.windows(1.0) == Windows(0.0, 4.0, "oracle")  # next at 5: keep 4 s
    assert o.windows(6.0) == Windows(0.0, 0.0, "oracle")  # next at 100: stop now
    assert o.windows(101.0) == Windows(0.0, 0.0, "oracle")  # no next call
    with pytest.raises(ValueError):
        o.windows()
