"""The simulator's figures. :func:`plot_keepalive_scale`: the keep-alive policies at scale
(``keepalive_scale`` table, :mod:`vsbench.sim.scale`), cold starts against idle memory, one
point per policy case; fixed timeouts and the oracle's break-even times are lines labelled
with their seconds, the oracle's line bounding what keep-alive alone can do.
:func:`plot_sim_validation`: simulated against measured p50, p99 and GB-s per run
(``sim_validation`` table, :mod:`vsbench.sim.replay`). Same conventions as :mod:`.plots`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .plots import RC, _message, _save, plt

__all__ = ["plot_keepalive_scale", "plot_sim_validation"]

_STYLE = {"fixed": ("tab:blue", "o", "fixed timeout"),
          "oracle": ("tab:grey", "s", "oracle (break-even time)"),
          "histogram": ("tab:red", "*", "hybrid histogram (ATC'20)")}


def plot_keepalive_scale(df: pd.DataFrame, path: str | Path) -> Path:
    if df is None or df.empty:
        return _message(path, "Keep-alive policies at scale", "no simulation in this study")
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, y, label in ((axes[0], "cold_pct", "cold starts, % of calls"),
                             (axes[1], "p75_function_cold_pct",
                              "75th percentile of functions' cold-start %")):
            for kind, (color, marker, name) in _STYLE.items():
                g = df[df["keepalive"] == kind].sort_values("idle_gb_s")
                if g.empty:
                    continue
                ax.plot(g["idle_gb_s"], g[y], marker=marker, color=color, label=name,
                        markersize=9 if kind == "histogram" else 5,
                        linestyle="-" if kind != "histogram" else "none")
                if kind == "fixed":
                    for _, r in g.iterrows():
                        ax.annotate(f"{r['parameter_s']:g}s", (r["idle_gb_s"], r[y]),
                                    textcoords="offset points", xytext=(4, 3), fontsize=7)
            ax.set_xscale("symlog", linthresh=max(1.0, float(df["idle_gb_s"].min()) or 1.0))
            if y == "cold_pct":  # from nearly all to a fraction of a percent
                ax.set_yscale("symlog", linthresh=0.01)
            ax.set_xlabel("idle GB-s held by replicas (simulated)")
            ax.set_ylabel(label)
        axes[0].legend(loc="upper right", fontsize=8)
        t = df.iloc[0]
        fig.suptitle(f"Keep-alive at scale: {int(t['functions'])} functions with calls, "
                     f"{t['trace_days']:g} day(s), {int(t['calls']):,} calls")
        return _save(fig, path)


_PANELS = [("p50_ms", "sim_p50_ms", "p50 latency, ms", 0.15),
           ("p99_ms", "sim_p99_ms", "p99 latency, ms", 0.25),
           ("gb_s", "sim_gb_s", "provisioned GB-s", 0.15)]


def plot_sim_validation(df: pd.DataFrame, path: str | Path) -> Path:
    if df is None or df.empty:
        return _message(path, "Simulator against measurement", "no run to compare")
    ok = df["within_goals"].astype(bool)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
        for ax, (real, sim, label, goal) in zip(axes, _PANELS, strict=True):
            x, y = df[real].astype(float), df[sim].astype(float)
            lo = max(1e-9, float(min(x.min(), y.min())) * 0.8)
            hi = float(max(x.max(), y.max())) * 1.2
            line = [lo, hi]
            ax.plot(line, line, color="black", linewidth=0.8)
            ax.fill_between(line, [v * (1 - goal) for v in line],
                            [v * (1 + goal) for v in line], color="tab:green", alpha=0.15,
                            linewidth=0)
            ax.scatter(x[ok], y[ok], color="tab:blue", s=18, label="all four goals met")
            ax.scatter(x[~ok], y[~ok], facecolors="none", edgecolors="tab:red", s=18,
                       label="a goal missed")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_xlabel(f"measured {label}")
            ax.set_ylabel(f"simulated {label}")
        axes[0].legend(loc="upper left", fontsize=8)
        fig.suptitle(f"Simulator against measurement: {len(df)} runs, {int(ok.sum())} within "
                     f"all four goals")
        return _save(fig, path)
