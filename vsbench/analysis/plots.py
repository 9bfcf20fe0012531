"""The study's figures (SVG), drawn from the tables of :mod:`vsbench.analysis.tables`.

Deterministic output: Agg backend, ``svg.hashsalt`` fixed, text kept as text
(``svg.fonttype: none``) and no date in the metadata, so the same tables give byte-identical
SVGs. A table with no rows gives a figure that says so, never an exception.

* :func:`plot_latency` — p50 and p99 end-to-end latency with bootstrap CIs, per regime, one
  panel per workload.
* :func:`plot_cold_starts` — fraction of cold invocations per stage and regime (Wilson CIs).
* :func:`plot_cost` — active and idle GB-s per ok request, stacked, per regime and workload,
  the total's run-level interval on top.
* :func:`.plots_rq.plot_sweeps`, :func:`.plots_rq.plot_pareto` — RQ2's sweeps and RQ3's
  latency-versus-cost view.
* :func:`plot_load` — machine CPU (mean) and load1 (max) during every run.
* :func:`plot_startup` — cold-start components per function, one bar per platform (host).
* :func:`make_figures` — all of them (:data:`FIGURES`) from a tables directory.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .tables import TABLE_COLUMNS, as_dir, read_tables  # noqa: E402

__all__ = ["plot_latency", "plot_cold_starts", "plot_cost", "plot_load", "plot_startup",
           "make_figures", "FIGURES", "RC"]

FIGURES = ("latency", "cold_starts", "cost", "sweeps", "pareto", "load", "startup")
STARTUP_PARTS = [("provision_ms", "provision (spawn / engine create + start)"),
                 ("runtime_up_ms", "interpreter + runtime up"), ("import_ms", "handler import"),
                 ("init_ms", "init (models)"), ("other_ms", "to ready (other)")]
RC = {
    "svg.hashsalt": "vsbench",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.prop_cycle": matplotlib.cycler(color=plt.get_cmap("tab10").colors),
}


def _table(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame:
    df = tables.get(name)
    if df is None:
        return pd.DataFrame(columns=TABLE_COLUMNS.get(name, []))
    return df


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return path


def _message(path: str | Path, title: str, text: str) -> Path:
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6, 2.5))
        ax.axis("off")
        ax.set_title(title)
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, transform=ax.transAxes)
        return _save(fig, path)


def _labels(df: pd.DataFrame) -> list[str]:
    """Regime labels in table order (platform-qualified when there are several platforms)."""
    multi = df["platform"].nunique() > 1
    return [f"{p}/{r}" if multi else str(r)
            for p, r in zip(df["platform"], df["regime"], strict=True)]


def _panels(n: int, width: float = 4.2, height: float = 3.4):
    fig, axes = plt.subplots(1, max(n, 1), figsize=(min(width * max(n, 1), 16), height),
                             squeeze=False, layout="constrained")
    return fig, list(axes[0])


def _err(est: pd.Series, low: pd.Series, high: pd.Series) -> np.ndarray:
    e, lo, hi = (pd.to_numeric(s, errors="coerce").to_numpy(float) for s in (est, low, high))
    return np.nan_to_num(np.vstack([e - lo, hi - e]).clip(min=0))


def _unique(s: pd.Series) -> list:
    return list(dict.fromkeys(s.tolist()))


def _regime_panels(df: pd.DataFrame, draw, ylabel: str, suptitle: str, xpad: float,
                   **legend_kw) -> plt.Figure:
    """One panel per workload, one x position per regime; ``draw(ax, rows, x)`` plots."""
    workloads = _unique(df["workload"])
    fig, axes = _panels(len(workloads))
    for ax, w in zip(axes, workloads, strict=False):
        d = df[df["workload"] == w]
        x = np.arange(len(d))
        draw(ax, d, x)
        ax.set_xticks(x, _labels(d), rotation=30, ha="right")
        ax.set_xlim(-0.5 - xpad, len(d) - 0.5 + xpad)
        ax.set_title(f"workload: {w}")
        ax.set_ylabel(ylabel)
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="outside lower center",
               ncols=2, **legend_kw)
    fig.suptitle(suptitle)
    return fig


def plot_latency(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """p50 and p99 latency (s) with 95 % bootstrap CIs per regime; one panel per workload."""
    df = _table(tables, "latency")
    if df.empty:
        return _message(path, "End-to-end latency", "no latency data (no ok requests)")

    def draw(ax, d: pd.DataFrame, x: np.ndarray) -> None:
        for off, q, marker in ((-0.12, "p50", "o"), (0.12, "p99", "s")):
            ax.errorbar(x + off, d[f"{q}_ms"] / 1000,
                        yerr=_err(d[f"{q}_ms"], d[f"{q}_low_ms"], d[f"{q}_high_ms"]) / 1000,
                        fmt=marker, capsize=3, label=q)
        ax.set_ylim(bottom=0)

    with plt.rc_context(RC):
        fig = _regime_panels(df, draw, "latency (s)", "End-to-end latency per regime (ok "
                             "requests, pooled over repetitions)", 0.1,
                             title="95% bootstrap CI")
        return _save(fig, path)


def plot_cold_starts(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Cold fraction of invocations per stage, one bar per regime; one panel per workload."""
    df = _table(tables, "cold_starts")
    if df.empty:
        return _message(path, "Cold starts per stage", "no invocations recorded")
    workloads = _unique(df["workload"])
    with plt.rc_context(RC):
        fig, axes = plt.subplots(len(workloads), 1, squeeze=False, layout="constrained",
                                 figsize=(10, 3.2 * len(workloads)))
        for ax, w in zip(axes[:, 0], workloads, strict=True):
            d = df[df["workload"] == w].copy()
            d["label"] = _labels(d)
            funcs = _unique(d["function"])
            regimes = _unique(d["label"])
            width = 0.8 / max(len(regimes), 1)
            x = np.arange(len(funcs))
            for i, reg in enumerate(regimes):
                r = d[d["label"] == reg].set_index("function").reindex(funcs)
                ax.bar(x - 0.4 + width * (i + 0.5), r["cold_fraction"].fillna(0), width,
                       yerr=_err(r["cold_fraction"], r["cold_fraction_low"],
                                 r["cold_fraction_high"]),
                       capsize=2, label=reg, error_kw={"elinewidth": 0.8})
            ax.set_xticks(x, funcs, rotation=20, ha="right")
            ax.set_ylim(0, 1.05)
            ax.set_ylabel("cold invocations (fraction)")
            ax.set_title(f"workload: {w}")
            ax.legend(title="regime", fontsize=8, ncols=min(len(regimes), 4))
        fig.suptitle("Cold-start frequency per stage (95% Wilson CI)")
        return _save(fig, path)


def plot_cost(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Active + idle GB-s per ok request (stacked) per regime; one panel per workload."""
    df = _table(tables, "cost")
    if df.empty:
        return _message(path, "Cost per ok request", "no cost data")

    def draw(ax, d: pd.DataFrame, x: np.ndarray) -> None:
        active = pd.to_numeric(d["active_gb_s_per_ok"], errors="coerce").fillna(0)
        idle = pd.to_numeric(d["idle_gb_s_per_ok"], errors="coerce").fillna(0)
        ax.bar(x, active, 0.6, label="active (executing)")
        ax.bar(x, idle, 0.6, bottom=active, label="idle (warm, not serving)")
        if "total_gb_s_per_ok_low" in d:
            ax.errorbar(x, d["total_gb_s_per_ok"], fmt="none", color="black", capsize=3,
                        yerr=_err(d["total_gb_s_per_ok"], d["total_gb_s_per_ok_low"],
                                  d["total_gb_s_per_ok_high"]), label="total, 95% interval")

    with plt.rc_context(RC):
        fig = _regime_panels(df, draw, "GB-s per ok request",
                             "Cost per ok request: active vs idle warm capacity", 0.2)
        return _save(fig, path)


def plot_load(runs_table: pd.DataFrame | None, path: str | Path) -> Path:
    """Mean machine CPU (bars) and max load1 (markers) of every run."""
    df = runs_table if runs_table is not None else pd.DataFrame(columns=TABLE_COLUMNS["runs"])
    if df.empty:
        return _message(path, "Machine load per run", "no runs")
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(min(3 + 0.45 * len(df), 16), 3.8),
                               layout="constrained")
        x = np.arange(len(df))
        labels = [f"{r}/{w}/rep{k}"
                  for r, w, k in zip(df["regime"], df["workload"], df["rep"], strict=True)]
        if df["platform"].nunique() > 1:
            labels = [f"{p}/{lab}" for p, lab in zip(df["platform"], labels, strict=True)]
        ax.bar(x, pd.to_numeric(df["cpu_percent_mean"], errors="coerce").fillna(0), 0.6,
               label="mean CPU (%)")
        ax.axhline(100, color="grey", linewidth=0.8, linestyle=":")
        ax.set_ylim(0, 105)
        ax.set_ylabel("machine CPU, mean over run (%)")
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
        ax2 = ax.twinx()
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        ax2.plot(x, pd.to_numeric(df["load1_max"], errors="coerce"), "kD", markersize=4,
                 label="max load1")
        ax2.set_ylabel("max 1-min load average")
        ax2.set_ylim(bottom=0)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
        ax.set_title("Machine load during each run")
        return _save(fig, path)


def plot_startup(tables: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Median cold-start components (stacked, ms) per function, one bar per platform."""
    df = _table(tables, "startup")
    if df.empty:
        return _message(path, "Cold-start components", "no replica started")
    platforms = list(dict.fromkeys(df["platform"]))
    functions = list(dict.fromkeys(df["function"]))
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(functions) * len(platforms)),
                               layout="constrained")
        height = 0.8 / len(platforms)
        colors = plt.get_cmap("tab10").colors
        for j, pl in enumerate(platforms):
            d = df[df["platform"] == pl].set_index("function").reindex(functions)
            y = np.arange(len(functions)) + (j - (len(platforms) - 1) / 2) * height
            left = np.zeros(len(functions))
            for k, (col, label) in enumerate(STARTUP_PARTS):
                v = pd.to_numeric(d[col], errors="coerce").fillna(0).clip(lower=0).to_numpy()
                ax.barh(y, v, height * 0.9, left=left, color=colors[k],
                        hatch="//" if j % 2 else None, edgecolor="white", linewidth=0.3,
                        label=label if j == 0 else None)
                left += v
            for yi, total in zip(y, left, strict=True):
                ax.text(total, yi, f" {pl}", va="center", fontsize=6)
        ax.set_yticks(np.arange(len(functions)), functions)
        ax.invert_yaxis()
        ax.set_xlabel("median time from spawn, ms")
        fig.legend(fontsize=7, loc="outside lower center", ncols=3)
        ax.set_title("Cold-start components per function and platform (hatched: 2nd platform)")
        return _save(fig, path)


def make_figures(tables_dir, figures_dir) -> list[Path]:
    """Write ``{name}.svg`` for every name in :data:`FIGURES` from the tables in ``tables_dir``
    (missing tables: a figure saying so).

    Either argument may be a folder or a list of files in it (a Snakemake rule's files)."""
    from .plots_rq import plot_pareto, plot_sweeps

    tables = read_tables(tables_dir) if as_dir(tables_dir).is_dir() else {}
    out = as_dir(figures_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_latency(tables, out / "latency.svg"),
        plot_cold_starts(tables, out / "cold_starts.svg"),
        plot_cost(tables, out / "cost.svg"),
        plot_sweeps(tables, out / "sweeps.svg"),
        plot_pareto(tables, out / "pareto.svg"),
        plot_load(tables.get("runs"), out / "load.svg"),
        plot_startup(tables, out / "startup.svg"),
    ]
    return paths

