"""Loading run archives (:class:`Run`, :func:`load_runs`) and reading and writing the study's
tables (:func:`write_tables`, :func:`read_tables`, :func:`as_dir`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..archive import load_archive, parse_run_dir

__all__ = ["Run", "load_runs", "as_dir", "write_tables", "read_tables", "FILE_SUFFIXES"]


# --- runs --------------------------------------------------------------------------------------

@dataclass
class Run:
    """One run's identity and its loaded archive (:func:`vsbench.archive.load_archive`)."""

    platform: str
    regime: str
    workload: str
    rep: int
    path: Path
    archive: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.platform, self.regime, self.workload)

    @property
    def provenance(self) -> dict[str, Any]:
        return self.archive.get("provenance") or {}

    @property
    def policies(self) -> dict[str, dict[str, Any]]:
        return ((self.provenance.get("config") or {}).get("regime") or {})


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Load run archives (a run's folder, or any file inside it such as ``summary.json``).

    Identity comes from ``provenance.json`` (falling back to the folder names). Sorted by
    platform, regime, workload, rep.
    """
    runs = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            path = path.parent
        archive = load_archive(path)
        prov = archive.get("provenance") or {}
        guess = parse_run_dir(path)
        ident = {k: prov.get(k, guess.get(k)) for k in ("platform", "regime", "workload", "rep")}
        missing = [k for k, v in ident.items() if v is None]
        if missing:
            raise ValueError(f"{path}: cannot tell the run's {', '.join(missing)} "
                             "(not in provenance.json nor in the folder names)")
        runs.append(Run(str(ident["platform"]), str(ident["regime"]), str(ident["workload"]),
                        int(ident["rep"]), path, archive))
    return sorted(runs, key=lambda r: (r.platform, r.regime, r.workload, r.rep))


# --- files -------------------------------------------------------------------------------------

FILE_SUFFIXES = {".csv", ".parquet", ".svg", ".json", ".html"}


def as_dir(x: str | Path | Iterable[str | Path]) -> Path:
    """A folder given as its path, or as files inside it (e.g. a Snakemake rule's list of
    table or figure files): their common parent."""
    if isinstance(x, str | Path):
        p = Path(x)
        return p.parent if p.suffix in FILE_SUFFIXES else p
    parents = {Path(p).parent for p in x}
    if len(parents) != 1:
        raise ValueError(f"expected files in one folder, got {len(parents)} folders: "
                         f"{sorted(map(str, parents))[:3]}")
    return parents.pop()


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """``{name}.csv`` (floats to 6 significant digits) and ``{name}.parquet`` (full precision)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, df in tables.items():
        csv, pq = out / f"{name}.csv", out / f"{name}.parquet"
        df.to_csv(csv, index=False, float_format="%.6g")
        df.to_parquet(pq, index=False)
        written += [csv, pq]
    (out / "tables.json").write_text(json.dumps(
        {name: list(df.columns) for name, df in tables.items()}, indent=1) + "\n")
    return written + [out / "tables.json"]


def read_tables(tables_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The tables written by :func:`write_tables` (Parquet); absent ones are left out."""
    d = as_dir(tables_dir)
    return {p.stem: pd.read_parquet(p) for p in sorted(d.glob("*.parquet"))}
