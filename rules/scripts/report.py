"""Snakemake script: tables + figures → the HTML report (vsbench.analysis.report).

input.tables     the tables (their directory or the list of table files; only the
                 listed Parquet files are read)
input.manifest   tables.json of the aggregate step (declared so the report follows it)
input.figures    the figures (their directory or the list of SVG files)
input.template   optional; default paper/template.html.j2
output.html      the report, e.g. "paper/report.html" (self-contained: SVGs inlined)
log[0]           stderr of this script
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.analysis.report import render_report  # noqa: E402

sm = snakemake  # noqa: F821
render_report(sm.input.tables, sm.input.figures, sm.output.html,
              template=sm.input.get("template"))
