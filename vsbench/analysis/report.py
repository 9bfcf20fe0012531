"""The study's report: one self-contained HTML file (figures inlined as SVG).

:func:`render_report` fills ``paper/template.html.j2`` from the tables written by
:func:`vsbench.analysis.tables.write_tables` and the figures of
:func:`vsbench.analysis.plots.make_figures`, and reads nothing else (no run archive). The
template holds no measured number: every number is computed from the tables by a *section*
and formatted by :mod:`.report_format`. Sentences that draw a conclusion (the guidelines)
speak only where the run-level intervals separate, never by the sign of a point estimate
alone. A missing table, figure or row makes its section say what is missing instead of
failing.

The report is a list of sections, :data:`SECTIONS`: each is a function of the tables
(:class:`~.report_data.ReportData`) returning the template variables it fills. To add one,
write its function (in a new ``report_<name>.py`` when it is more than a few lines), append it
to ``SECTIONS`` and add its block to the template. Modules:

* :mod:`.report_data`: what the report reads (tables, figures, captions);
* :mod:`.report_format`: numbers → text;
* :mod:`.report_rows`: the rows of the report's HTML tables;
* :mod:`.report_text`: prose on cold starts, idle cost, start-up, threats to validity;
* :mod:`.report_rq`: the rows of the sweeps, start-class, Pareto, correctness and
  reliability tables;
* :mod:`.report_guidelines`: the guidelines, decided by intervals;
* :mod:`.report_starters`: "What removes a cold start", each starter against spawn;
* :mod:`.report_sim`: "Keep-alive policies at scale (simulated)", the ``keepalive_scale``
  table of :mod:`vsbench.sim.scale` (its own Snakemake rule, not the aggregate step's);
* :mod:`.report_pdf`: HTML → PDF (:func:`render_pdf`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from . import report_rows as rows
from . import report_rq as rq
from .report_data import CAPTIONS, ReportData, caption, load_figures, load_tables
from .report_format import fmt, fmt_ci, fmt_pct, fmt_ratio, fmt_timeout
from .report_guidelines import guidelines
from .report_pdf import render_pdf
from .report_text import cold_sentences, idle_sentences, startup_summary, threats

__all__ = ["render_report", "render_pdf", "report_context", "SECTIONS", "Section", "fmt",
           "fmt_pct", "fmt_ratio", "fmt_ci", "fmt_timeout", "TEMPLATE", "CAPTIONS"]

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "paper" / "template.html.j2"
CI_LEVEL = 95  # the confidence level the tables were built with (stats defaults)
TITLE = ("Serverless cold starts in VideoSearcher: latency, cold-start frequency and cost "
         "under deployment regimes")

Section = Callable[[ReportData], dict[str, Any]]
_startup_summary = startup_summary  # the name tests/test_startup.py imports


# --- sections: each returns the template variables of its part of the report ------------------

class _Captions(dict):
    """Figure captions by name, read from report/{name}.rst on first use."""

    def __missing__(self, name: str) -> str:
        self[name] = caption(name)
        return self[name]


def overview(d: ReportData) -> dict[str, Any]:
    return {"title": TITLE, "ci": CI_LEVEL, "missing": d.missing,
            "workflow": caption("workflow"), "captions": _Captions()}


def method(d: ReportData) -> dict[str, Any]:
    return {"method": rows.method(d)}


def rq1_decomposition(d: ReportData) -> dict[str, Any]:
    stages = rows.stage_rows(d)
    return {"stages": stages, "functions": rows.function_rows(d, stages)}


def rq2_latency_and_cold_starts(d: ReportData) -> dict[str, Any]:
    multi = d.multi_platform
    cold_cols, cold_rows = rows.cold_pivot(d["cold_starts"], multi)
    return {"latency_rows": rows.latency_rows(d["latency"], multi),
            "comparison_rows": rows.comparison_rows(d["comparisons"], multi),
            "cold_cols": cold_cols, "cold_rows": cold_rows,
            "cold_sentences": cold_sentences(d["latency"], d["cold_starts"], multi),
            "startup_rows": rows.startup_rows(d["startup"]),
            "startup_summary": startup_summary(d["startup"])}


def rq2_sweeps_and_start_classes(d: ReportData) -> dict[str, Any]:
    multi = d.multi_platform
    return {"sweep_rows": rq.sweep_rows(d["sweeps"], multi),
            "start_class_rows": rq.start_class_rows(d["start_classes"], multi)}


def rq3_pareto(d: ReportData) -> dict[str, Any]:
    return {"pareto_rows": rq.pareto_rows(d["pareto"], d.multi_platform)}


def correctness(d: ReportData) -> dict[str, Any]:
    from ..correctness import BOUNDARY_TOL_S

    return {"correctness_rows": rq.correctness_rows(d["correctness"], d.multi_platform),
            "boundary_tol": fmt(BOUNDARY_TOL_S)}


def reliability(d: ReportData) -> dict[str, Any]:
    from .reliability import RETRIED_STATUS

    return {"retried_statuses": "/".join(map(str, RETRIED_STATUS)),
            "reliability_rows": rq.reliability_rows(d["reliability"], d.multi_platform),
            "fault_event_rows": rq.fault_event_rows(d["fault_events"], d.multi_platform)}


def starters(d: ReportData) -> dict[str, Any]:
    from .report_starters import starter_rows, starter_sentences

    return {"starter_rows": starter_rows(d["starters"], d.multi_platform),
            "starter_sentences": starter_sentences(d["starters"], d.multi_platform)}


def keepalive_at_scale(d: ReportData) -> dict[str, Any]:
    from .report_sim import (
        scale_rows,
        scale_sentences,
        scale_settings,
        validation_rows,
        validation_sentences,
    )

    df, val = d["keepalive_scale"], d["sim_validation"]
    return {"scale_rows": scale_rows(df), "scale_sentences": scale_sentences(df),
            "scale_settings": scale_settings(df),
            "validation_rows": validation_rows(val, d.multi_platform),
            "validation_sentences": validation_sentences(val)}


def rq3_cost(d: ReportData) -> dict[str, Any]:
    multi = d.multi_platform
    return {"cost_rows": rows.cost_rows(d["cost"], multi),
            "idle_sentences": idle_sentences(d["cost"], d["cost_by_function"], multi),
            "guidelines": guidelines(d, rows.stage_rows(d), multi)}


def threats_to_validity(d: ReportData) -> dict[str, Any]:
    return {"threats": threats(d)}


def provenance(d: ReportData) -> dict[str, Any]:
    return {"provenance": rows.provenance(d)}


SECTIONS: list[Section] = [overview, method, rq1_decomposition, rq2_latency_and_cold_starts,
                           rq2_sweeps_and_start_classes, rq3_cost, rq3_pareto, starters,
                           keepalive_at_scale, correctness, reliability, threats_to_validity,
                           provenance]


# --- rendering ---------------------------------------------------------------------------------

def report_context(tables: dict[str, pd.DataFrame],
                   figures: dict[str, str | None]) -> dict[str, Any]:
    """Everything the template shows, as formatted strings: the variables of every section
    of :data:`SECTIONS`, plus ``figures`` (inline SVG by name, None when missing)."""
    d = ReportData.from_tables(tables)
    # A figure or caption the template names but the plot step no longer draws reads as
    # missing (None, "") rather than failing the render.
    context: dict[str, Any] = {"figures": defaultdict(lambda: None, figures)}
    for section in SECTIONS:
        part = section(d)
        clash = sorted(set(part) & set(context))
        if clash:
            raise ValueError(f"report section {section.__name__} sets {clash}, which another "
                             "section already set: give its variables other names")
        context.update(part)
    return context


def render_report(tables_dir: str | Path | Iterable[str | Path] | None,
                  figures_dir: str | Path | Iterable[str | Path] | None,
                  out_html: str | Path, archive_root: str | Path | None = None,
                  template: str | Path | None = None) -> Path:
    """Render the HTML report to ``out_html``.

    ``tables_dir`` / ``figures_dir``: folders, or lists of the files in them (a Snakemake
    rule's inputs), or None; from a list, only the files listed are read.
    ``template`` defaults to ``paper/template.html.j2``. ``archive_root`` is accepted for
    compatibility and ignored: the report reads only the tables and figures (a number it
    needs from the raw runs belongs in a table of the aggregate step)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    del archive_root
    tpl = Path(template) if template else TEMPLATE
    env = Environment(loader=FileSystemLoader(str(tpl.parent)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    context = report_context(load_tables(tables_dir), load_figures(figures_dir))
    text = env.get_template(tpl.name).render(**context)
    out = Path(out_html)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out
