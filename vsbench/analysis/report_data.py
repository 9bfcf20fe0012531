"""What the report reads: the tables, the figures and the captions, and nothing else.

The report is a function of the aggregate step's tables (``results/tables``, listed in its
``tables.json``), the plot step's SVG figures and the captions in ``report/*.rst``. It never
opens the run archive: a number the report needs from the raw runs belongs in a table of
:func:`vsbench.analysis.tables.build_tables`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .plots import FIGURES
from .tables import TABLE_COLUMNS, as_dir

__all__ = ["ReportData", "load_tables", "load_figures", "caption", "inline_svg", "CAPTIONS",
           "MANIFEST"]

REPO = Path(__file__).resolve().parents[2]
CAPTIONS = REPO / "report"
MANIFEST = "tables.json"  # written by write_tables: table name → its columns
OTHER_FIGURES = ("keepalive_scale", "sim_validation")  # drawn by plot_simulation (.plots_sim)

TablesArg = str | Path | Iterable[str | Path] | None


@dataclass
class ReportData:
    """The tables a report is built from. Every table of ``TABLE_COLUMNS`` is present:
    one the aggregate step did not write is empty, with its columns, and named in
    ``missing``, so a section can test ``len(d["x"])`` instead of guarding for None."""

    tables: dict[str, pd.DataFrame]
    missing: list[str] = field(default_factory=list)

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> ReportData:
        full = {name: tables[name] if tables.get(name) is not None
                else pd.DataFrame(columns=cols) for name, cols in TABLE_COLUMNS.items()}
        for name, df in tables.items():  # tables the report does not know yet: kept as is
            full.setdefault(name, df)
        return cls(full, [n for n in TABLE_COLUMNS if tables.get(n) is None])

    def __getitem__(self, name: str) -> pd.DataFrame:
        """The table; one neither written nor in ``TABLE_COLUMNS`` is empty, without
        columns (a section guards with ``len()`` before it reads a column)."""
        return self.tables[name] if name in self.tables else pd.DataFrame()

    @property
    def multi_platform(self) -> bool:
        """Several platforms: regimes are then labelled ``platform/regime``."""
        return len(set(self["runs"]["platform"]) | set(self["latency"]["platform"])) > 1


def load_tables(tables: TablesArg) -> dict[str, pd.DataFrame]:
    """The aggregate step's tables, from Parquet.

    ``tables``: the list of table files a rule declares (only the ``.parquet`` files listed
    are read), or their folder (the tables named in its ``tables.json``; every ``*.parquet``
    when it has none), or None (no tables)."""
    if tables is None:
        return {}
    if not isinstance(tables, str | Path):
        files = [Path(p) for p in tables]
        return {p.stem: pd.read_parquet(p) for p in files
                if p.suffix == ".parquet" and p.is_file()}
    d = as_dir(tables)
    if not d.is_dir():
        return {}
    manifest = d / MANIFEST
    names = (list(json.loads(manifest.read_text())) if manifest.is_file()
             else [p.stem for p in sorted(d.glob("*.parquet"))])
    return {n: pd.read_parquet(d / f"{n}.parquet") for n in names
            if (d / f"{n}.parquet").is_file()}


_SVG_HEAD = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<metadata>.*?</metadata>", re.S)


def inline_svg(path: Path, prefix: str) -> str | None:
    """The SVG's markup for inlining: no XML prolog or metadata, ids prefixed so several
    figures in one page cannot clash."""
    if not path.is_file():
        return None
    text = _SVG_HEAD.sub("", path.read_text()).strip()
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    text = re.sub(r"<svg\b", f'<svg role="img" aria-label="{prefix} figure"', text, count=1)
    return text


def load_figures(figures: TablesArg) -> dict[str, str | None]:
    """Each figure of ``FIGURES`` as inline SVG (None when its file is missing);
    ``figures``: their folder or the list of SVG files in it."""
    fdir = as_dir(figures) if figures is not None else None
    return {name: inline_svg(fdir / f"{name}.svg", name) if fdir else None
            for name in (*FIGURES, *OTHER_FIGURES)}


def caption(name: str) -> str:
    """The figure's caption, from report/{name}.rst (RST markup stripped to plain text)."""
    p = CAPTIONS / f"{name}.rst"
    if not p.is_file():
        return ""
    text = " ".join(p.read_text().split())
    text = re.sub(r":\w+:`([^`]*)`", r"\1", text)
    return text.replace("``", "").replace("**", "").replace("*", "")
