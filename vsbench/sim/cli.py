"""``vsbench simulate``: keep-alive policies compared at scale from the command line (the
study's `simulate_scale` rule does the same from the config's ``simulation:`` block)."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

from vsbench.errors import VsbError

from .scale import SIM_DEFAULTS, scale_study


def add_parser(sub) -> None:
    s = sub.add_parser("simulate", help="keep-alive policies at scale, simulated with the "
                                        "times of measured runs (fixed, histogram, oracle)")
    s.add_argument("--archive", nargs="+", required=True,
                   help="run archives to draw service and cold-start times from: run folders "
                        "or a results folder (every raw/*/*/*/rep*/ in it)")
    s.add_argument("--trace", nargs="*", default=[],
                   help="Azure Functions 2019 day files (invocations_per_function_md.anon."
                        "d01.csv ...), in day order; none: the synthetic generator")
    s.add_argument("--functions", type=int, default=SIM_DEFAULTS["functions"])
    s.add_argument("--days", type=int, default=SIM_DEFAULTS["days"])
    s.add_argument("--seed", type=int, default=SIM_DEFAULTS["seed"])
    s.add_argument("--max-rate-per-min", type=float, default=SIM_DEFAULTS["max_rate_per_min"])
    s.add_argument("--timeouts", default=",".join(f"{t:g}" for t in SIM_DEFAULTS["timeouts_s"]),
                   help="fixed timeouts and oracle break-even times, seconds, comma-separated")
    s.add_argument("--validate", action="store_true",
                   help="instead: simulate every archive given from its own schedule and "
                        "regime and compare with its measurement (p50, p99, cold share, GB-s)")
    s.add_argument("--write-archives", metavar="DIR",
                   help="with --validate: also write each simulated run as a run archive "
                        "under DIR/raw/ (marked simulated; the same tables apply)")
    s.add_argument("--out", help="also write the table here (.parquet or .csv)")
    s.set_defaults(func=run)


def run_archives(paths: list[str]) -> list[Path]:
    """Run folders (with summary.json) given directly or found under results folders."""
    out = []
    for p in map(Path, paths):
        if (p / "summary.json").is_file():
            out.append(p)
        elif p.is_dir():
            found = glob.glob(str(p / "raw/*/*/*/rep*/summary.json"))
            out += [Path(s).parent for s in sorted(found)]
        else:
            raise VsbError(f"--archive {p}: no such folder; give run folders or a results folder")
    if not out:
        raise VsbError(f"--archive {' '.join(paths)}: no run archive (summary.json) found")
    return out


def _write(df, out: str | None) -> None:
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False) if path.suffix == ".csv" else df.to_parquet(path,
                                                                                 index=False)


def validate(args: argparse.Namespace) -> int:
    from .replay import GOALS, validation_table

    root = Path(args.write_archives) if args.write_archives else None
    df = validation_table(run_archives(args.archive), args.seed, root)
    cols = ["regime", "workload", "rep", "p50_ms", "sim_p50_ms", "p99_ms", "sim_p99_ms",
            "cold_fraction", "sim_cold_fraction", "gb_s", "sim_gb_s", "within_goals"]
    print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    met = {k: int((df[k] <= v).sum()) for k, v in GOALS.items()}
    print(f"# {len(df)} runs; within the goals: " + ", ".join(
        f"{k} <= {v:g}: {met[k]}" for k, v in GOALS.items())
        + f"; all four: {int(df['within_goals'].sum())}", file=sys.stderr)
    if root is not None:
        print(f"# simulated archives under {root / 'raw'}", file=sys.stderr)
    _write(df, args.out)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.validate:
        return validate(args)
    if args.write_archives:
        raise VsbError("--write-archives writes the runs --validate simulates: add --validate "
                       "(the policies at scale have no run archive to write)")
    try:
        timeouts = [float(t) for t in args.timeouts.split(",") if t.strip()]
    except ValueError:
        raise VsbError(f"--timeouts {args.timeouts!r}: give seconds, comma-separated "
                       f"(e.g. 10,60,600)") from None
    df = scale_study(run_archives(args.archive), {
        "trace": args.trace, "functions": args.functions, "days": args.days,
        "seed": args.seed, "max_rate_per_min": args.max_rate_per_min, "timeouts_s": timeouts})
    cols = ["policy", "calls", "cold_starts", "cold_pct", "p75_function_cold_pct",
            "idle_gb_s", "wall_s"]
    print(df[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    calls, wall = df["calls"].sum(), df["wall_s"].sum()
    print(f"# {df.iloc[0]['trace']}; {calls:,} simulated calls in {wall:.1f} s: "
          f"{calls / wall * 60:,.0f} per minute", file=sys.stderr)
    _write(df, args.out)
    return 0
