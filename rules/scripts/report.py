"""Snakemake script: tables + figures → the HTML report (vsbench.analysis.report).

input.tables     the tables (their directory or the list of table files)
input.figures    the figures (their directory or the list of SVG files)
input.template   optional; default paper/template.html.j2
output.html      the report, e.g. "paper/report.html" (self-contained: SVGs inlined)
params.archive   optional run-archive root (e.g. "results/raw"; also accepted as
                 params.archive_root): read for provenance when the tables lack it
log[0]           stderr of this script
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.analysis.report import render_report  # noqa: E402

sm = snakemake  # noqa: F821
render_report(sm.input.tables, sm.input.figures, sm.output.html,
              archive_root=sm.params.get("archive") or sm.params.get("archive_root"),
              template=sm.input.get("template"))
