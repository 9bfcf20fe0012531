"""The simulated keep-alive policies at scale (``keepalive_scale`` table, :mod:`vsbench.sim.
scale`): cold starts against idle memory, one point per policy case. Fixed timeouts and the
oracle's break-even times are lines labelled with their seconds; the oracle's line bounds
what keep-alive alone can do. Same conventions as :mod:`.plots`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .plots import RC, _message, _save, plt

__all__ = ["plot_keepalive_scale"]

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
