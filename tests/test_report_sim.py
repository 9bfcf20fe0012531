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
