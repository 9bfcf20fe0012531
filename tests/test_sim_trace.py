"""Traces in the Azure Functions 2019 layout: read, written, generated to the published
statistics; and keep-alive policies compared on one."""

from __future__ import annotations

import numpy as np
import pytest

from vsbench.errors import VsbError
from vsbench.sim import trace as tr
from vsbench.sim.fit import Empirical, FunctionTimes
from vsbench.sim.scale import PolicyCase, compare, default_cases, mapped_function


def _day_file(path, rows):
    header = ",".join(tr.KEY_COLUMNS + [str(m) for m in range(1, 1441)])
    lines = [header]
    for key, trigger, counts in rows:
        full = [0] * 1440
        for minute, n in counts.items():
            full[minute - 1] = n
        lines.append(",".join(key.split("/") + [trigger] + [str(x) for x in full]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_published_layout_reads_over_several_days(tmp_path):
    d1 = _day_file(tmp_path / "invocations_per_function_md.anon.d01.csv",
                   [("o1/a1/f1", "http", {1: 2, 1440: 1}), ("o1/a1/f2", "timer", {3: 1})])
    d2 = _day_file(tmp_path / "invocations_per_function_md.anon.d02.csv",
                   [("o1/a1/f1", "http", {2: 1})])
    fns = {f.key: f for f in tr.read_trace([d1, d2])}
    assert set(fns) == {"o1/a1/f1", "o1/a1/f2"}
    f1 = fns["o1/a1/f1"]
    assert len(f1.counts) == 2880 and f1.counts.sum() == 4 and f1.counts[1441] == 1
    arr = f1.arrivals(seed=1)
    assert len(arr) == 4 and arr == sorted(arr)
    assert 0 <= arr[0] < arr[1] < 60 and 1439 * 60 <= arr[2] < 1440 * 60  # within their minutes
    assert 1441 * 60 <= arr[3] < 1442 * 60
    assert f1.arrivals(seed=1) == arr and f1.arrivals(seed=2) != arr
    assert len(fns["o1/a1/f2"].counts) == 2880  # absent on day 2: zeros


@pytest.mark.parametrize("content, says", [
    ("HashOwner,HashApp\nx,y\n", "no column(s) HashFunction, Trigger, 1, 1440"),
    (",".join(tr.KEY_COLUMNS + [str(m) for m in range(1, 1441)]) + "\no,a,f,http,"
     + ",".join(["x"] * 1440) + "\n", "line 2: a minute's count is not a whole number"),
])
def test_a_bad_trace_file_says_what_is_wrong_in_one_line(tmp_path, content, says):
    p = tmp_path / "t.csv"
    p.write_text(content)
    with pytest.raises(VsbError, match=says.replace("(", r"\(").replace(")", r"\)")):
        tr.read_trace([p])
    with pytest.raises(VsbError, match="cannot read the trace"):
        tr.read_trace([tmp_path / "missing.csv"])


def test_the_generator_follows_the_published_statistics_and_round_trips(tmp_path):
    n, days = 3000, 2
    fns = tr.synthetic_trace(n, days=days, seed=3)
    per_min = {f.key: f.counts.sum() / (days * 1440) for f in fns}
    silent = n - len(fns)  # no call at all over the trace: rate below 1 per hour too
    hourly = (sum(r <= 1 / 60 for r in per_min.values()) + silent) / n
    minutely = (sum(r <= 1 for r in per_min.values()) + silent) / n
    assert hourly == pytest.approx(tr.SHARE_AT_MOST_HOURLY, abs=0.04)
    assert minutely == pytest.approx(tr.SHARE_AT_MOST_PER_MINUTE, abs=0.04)
    timers = sum(f.trigger == "timer" for f in fns) / len(fns)
    assert timers == pytest.approx(tr.SHARE_TIMER, abs=0.04)
    paths = tr.write_trace(fns[:50], tmp_path)
    assert [p.name for p in paths] == ["invocations_per_function_md.anon.d01.csv",
                                       "invocations_per_function_md.anon.d02.csv"]
    back = {f.key: f for f in tr.read_trace(paths)}
    for f in fns[:50]:
        assert np.array_equal(back[f.key].counts, f.counts)


def _times():
    return {"fast": FunctionTimes("fast", Empirical([0.2]), Empirical([1.0]), 256),
            "slow": FunctionTimes("slow", Empirical([2.0, 3.0]), Empirical([3.0]), 512)}


def test_policies_at_scale_order_as_they_must():
    fns = tr.synthetic_trace(60, days=1, seed=5)
    fns = [f for f in fns if f.counts.sum() < 20000][:25]  # keep the test quick
    cases = default_cases([10, 60, 600])
    df = compare(fns, _times(), cases, seed=1).set_index("policy")
    fixed = df.loc[["fixed-10s", "fixed-60s", "fixed-600s"]]
    assert fixed["cold_starts"].is_monotonic_decreasing  # longer keep-alive: fewer colds
    assert fixed["idle_gb_s"].is_monotonic_increasing  # and more idle memory
    for b in ("10s", "60s", "600s"):  # the oracle: same colds, never more idle
        assert df.loc[f"oracle-{b}", "cold_starts"] == df.loc[f"fixed-{b}", "cold_starts"]
        assert df.loc[f"oracle-{b}", "idle_gb_s"] <= df.loc[f"fixed-{b}", "idle_gb_s"]
    assert (df["calls"] == sum(int(f.counts.sum()) for f in fns)).all()
    assert set(df["keepalive"]) == {"fixed", "histogram", "oracle"}
    assert isinstance(cases[0], PolicyCase)


def test_a_trace_function_always_plays_the_same_videosearcher_function():
    names = ["asr", "librosa", "search"]
    assert mapped_function("o/a/f", names) == mapped_function("o/a/f", list(names))
    assert {mapped_function(f"o/a/f{i}", names) for i in range(50)} == set(names)
