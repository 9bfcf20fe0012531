"""RQ2's sweep figure and RQ3's Pareto figure (SVG), from the ``sweeps`` and ``pareto`` tables.

* :func:`plot_sweeps` — one column per swept factor (min replicas, max replicas, idle
  timeout): cold requests by start class (top), p50 and p99 latency (middle) and GB-s per ok
  request (bottom), every point with its 95 % interval; the base regime's point ringed.
* :func:`plot_pareto` — p50 (left) and p99 (right) latency against GB-s per ok request, every
  regime and sweep point with interval bars on both axes, the frontier drawn, dominated points
  labelled in grey. One row per platform × workload.

Same conventions as :mod:`.plots` (deterministic SVG, a figure that says so when a table is
empty).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .plots import RC, _err, _message, _save, _table, plt
from .sweeps import LATENCIES

__all__ = ["plot_sweeps", "plot_pareto"]

FACTOR_LABELS = {"min_replicas": "min replicas", "max_replicas": "max replicas",
                 "idle_timeout_s": "idle timeout (keep-alive), s"}


def _num(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(float)


def plot_sweeps(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    df = _table(tables, "sweeps")
    if df.empty:
        return _message(path, "One-factor sweeps", "no sweep in this study")
    factors = list(dict.fromkeys(df["factor"]))
    series = list(dict.fromkeys(zip(df["platform"], df["workload"], strict=True)))
    multi = df["platform"].nunique() > 1
    colors = plt.get_cmap("tab10").colors
    with plt.rc_context(RC):
        fig, axes = plt.subplots(3, len(factors), figsize=(4.2 * len(factors), 8.4),
                                 squeeze=False, layout="constrained")
        for j, factor in enumerate(factors):
            top, mid, bottom = axes[0][j], axes[1][j], axes[2][j]
            for i, (pl, w) in enumerate(series):
                d = df[(df["factor"] == factor) & (df["platform"] == pl)
                       & (df["workload"] == w)].sort_values("value")
                if d.empty:
                    continue
                c, name = colors[i % len(colors)], f"{pl}/{w}" if multi else str(w)
                x = _num(d["value"])
                finite = np.isfinite(x)
                x = np.where(finite, x, np.nanmax(x[finite]) * 2 if finite.any() else 1)
                top.errorbar(x, d["cold_request_fraction"], capsize=3, marker="o", color=c,
                             yerr=_err(d["cold_request_fraction"], d["cold_request_fraction_low"],
                                       d["cold_request_fraction_high"]), label=f"{name}: cold")
                top.plot(x, d["scale_from_zero_fraction"], color=c, marker="v",
                         linestyle=":", label=f"{name}: from zero")
                for q, mk, ls in (("p50", "o", "-"), ("p99", "^", "--")):
                    mid.errorbar(x, d[f"{q}_ms"] / 1000, capsize=3, marker=mk, color=c,
                                 linestyle=ls, label=f"{name}: {q}",
                                 yerr=_err(d[f"{q}_ms"], d[f"{q}_low_ms"], d[f"{q}_high_ms"])
                                 / 1000)
                bottom.errorbar(x, d["total_gb_s_per_ok"], capsize=3, marker="s", color=c,
                                label=name, yerr=_err(d["total_gb_s_per_ok"],
                                                      d["total_gb_s_per_ok_low"],
                                                      d["total_gb_s_per_ok_high"]))
                base = d["is_base"].astype(bool).to_numpy()
                for ax, y in ((top, d["cold_request_fraction"]),
                              (bottom, d["total_gb_s_per_ok"])):
                    ax.scatter(x[base], _num(y)[base], s=140, facecolors="none",
                               edgecolors="black", zorder=3)
                if factor == "idle_timeout_s" and (x > 0).all() and x.max() / x.min() > 20:
                    for ax in (top, mid, bottom):
                        ax.set_xscale("log")
            top.set_title(f"sweep of {FACTOR_LABELS.get(factor, factor)}")
            top.set_ylim(0, 1.05)
            top.set_ylabel("cold requests (fraction)")
            mid.set_ylabel("latency, s (p50 solid, p99 dashed)")
            bottom.set_ylabel("GB-s per ok request")
            bottom.set_ylim(bottom=0)
            bottom.set_xlabel(FACTOR_LABELS.get(factor, factor))
            if factor != "idle_timeout_s":  # replica counts: whole numbers on the axis
                for ax in (top, mid, bottom):
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles, labels = [], []
        for row in axes:
            h, lab = row[0].get_legend_handles_labels()
            handles, labels = handles + h, labels + lab
        fig.legend(handles, labels, fontsize=8, loc="outside lower center", ncols=3)
        fig.suptitle("One factor at a time\n(base regime ringed; 95 % intervals)")
        return _save(fig, path)


def plot_pareto(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    df = _table(tables, "pareto")
    if df.empty:
        return _message(path, "Latency versus cost", "no runs")
    groups = list(dict.fromkeys(zip(df["platform"], df["workload"], strict=True)))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(groups), 2, figsize=(11, 4.2 * len(groups)),
                                 squeeze=False, layout="constrained")
        for i, (pl, w) in enumerate(groups):
            d = df[(df["platform"] == pl) & (df["workload"] == w)]
            for j, m in enumerate(LATENCIES):
                ax = axes[i][j]
                front = d[f"frontier_{m}"].astype(bool).to_numpy()
                x, y = _num(d["total_gb_s_per_ok"]), _num(d[f"{m}_ms"]) / 1000
                xerr = _err(d["total_gb_s_per_ok"], d["total_gb_s_per_ok_low"],
                            d["total_gb_s_per_ok_high"])
                yerr = _err(d[f"{m}_ms"], d[f"{m}_low_ms"], d[f"{m}_high_ms"]) / 1000
                for sel, color in ((front, "tab:blue"), (~front, "0.6")):
                    ax.errorbar(x[sel], y[sel], xerr=xerr[:, sel], yerr=yerr[:, sel],
                                fmt="o", color=color, capsize=2, linewidth=0.8)
                order = np.argsort(x[front])
                ax.step(x[front][order], y[front][order], where="post", color="tab:blue",
                        linewidth=1.2, label="frontier")
                for xi, yi, name, f in zip(x, y, d["regime"], front, strict=True):
                    ax.annotate(str(name), (xi, yi), fontsize=7, xytext=(3, 3),
                                textcoords="offset points", color="black" if f else "0.45")
                ax.set_xlabel("GB-s per ok request")
                ax.set_ylabel(f"{m} latency, s")
                ax.set_xlim(left=0)
                ax.set_ylim(bottom=0)
                ax.set_title(f"{pl} / {w}: {m} (frontier in blue, dominated in grey)")
        fig.suptitle("Latency versus cost per regime and sweep point (95 % run-level intervals)")
        return _save(fig, path)
