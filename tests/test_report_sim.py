"""The report's keep-alive-at-scale verdict, on made-up tables."""

from __future__ import annotations

import json

import pandas as pd

from vsbench.analysis.report_sim import histogram_verdict, scale_sentences, scale_settings


def _table(hist_cold, hist_idle):
    rows = [("fixed-10s", "fixed", 10, 500, 100.0), ("fixed-60s", "fixed", 60, 200, 300.0),
            ("fixed-600s", "fixed", 600, 50, 900.0),
            ("histogram", "histogram", None, hist_cold, hist_idle),
            ("oracle-60s", "oracle", 60, 200, 150.0), ("oracle-600s", "oracle", 600, 50, 500.0)]
    return pd.DataFrame([{
        "policy": p, "keepalive": k, "parameter_s": s, "functions": 10, "calls": 1000,
        "cold_starts": c, "cold_pct": c / 10, "p75_function_cold_pct": 50.0,
        "alive_gb_s": i * 2, "idle_gb_s": i, "idle_gb_s_per_call": i / 1000,
        "settings": json.dumps({"policy": k, "idle_timeout_s": s}), "trace": "synthetic",
        "trace_days": 1.0, "times_from": "2 run archive(s): asr"} for p, k, s, c, i in rows])


def test_histogram_meets_the_goal_with_fewer_colds_than_the_best_cheaper_fixed():
    v = histogram_verdict(_table(hist_cold=120, hist_idle=400.0))
    assert v["within"] and v["fixed"]["policy"] == "fixed-60s" and v["fewer_colds"]
    text = " ".join(scale_sentences(_table(120, 400.0)))
    assert "meets the goal" in text and "fixed-60s" in text


def test_histogram_falling_short_says_so():
    text = " ".join(scale_sentences(_table(hist_cold=250, hist_idle=400.0)))
    assert "falls short of the goal" in text


def test_histogram_leaner_than_every_fixed_timeout_is_compared_with_the_leanest():
    v = histogram_verdict(_table(hist_cold=700, hist_idle=50.0))
    assert not v["within"] and v["fixed"]["policy"] == "fixed-10s" and not v["fewer_colds"]
    assert "Every fixed timeout holds more idle memory" in scale_sentences(_table(700, 50.0))[0]


def test_no_histogram_row_no_sentences_and_settings_stated():
    df = _table(120, 400.0)
    assert scale_sentences(df[df["keepalive"] != "histogram"]) == []
    assert scale_sentences(pd.DataFrame()) == [] and scale_settings(pd.DataFrame()) == []
    settings = scale_settings(df)
    assert settings[0].startswith("trace: synthetic") and any(
        s.startswith("fixed:") and "swept: 10, 60, 600 s" in s for s in settings)


def _validation():
    from vsbench.sim.replay import VALIDATION_COLUMNS

    rows = []
    for regime, p50, sp50, gb, sgb in [("cold", 1000.0, 1050.0, 100.0, 104.0),
                                       ("warm", 1000.0, 1500.0, 100.0, 200.0)]:
        r = {"platform": "embedded", "regime": regime, "workload": "burst", "rep": 1,
             "requests": 6, "p50_ms": p50, "sim_p50_ms": sp50, "p99_ms": 2000.0,
             "sim_p99_ms": 2100.0, "cold_fraction": 0.5, "sim_cold_fraction": 0.5,
             "gb_s": gb, "sim_gb_s": sgb}
        r["p50_err"] = abs(sp50 - p50) / p50
        r["p99_err"] = 0.05
        r["cold_err_pts"] = 0.0
        r["gb_s_err"] = abs(sgb - gb) / gb
        r["within_goals"] = r["p50_err"] <= 0.15 and r["gb_s_err"] <= 0.15
        rows.append(r)
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def test_validation_counts_goals_names_the_misses_and_says_why():
    from vsbench.analysis.report_sim import validation_rows, validation_sentences

    text = " ".join(validation_sentences(_validation()))
    assert "1 of 2 runs meet all four goals" in text
    assert "1 of 2 within 15% on p50" in text and "2 of 2 within 25% on p99" in text
    assert "warm/burst (p50 1,000 measured, 1,500 simulated)" in text
    assert "GB-s misses: warm/burst" in text and "the machine's load when it began" in text
    rows = validation_rows(_validation())
    assert rows[0][3] == "1,000 / 1,050" and rows[1][-1] == "no"
    assert validation_sentences(pd.DataFrame()) == [] and validation_rows(pd.DataFrame()) == []
