"""Snakemake script: tables → figures (vsbench.analysis.plots.make_figures).

input.tables    the tables: their directory, or the rule's list of table files in it
output          one SVG per name in vsbench.analysis.plots.FIGURES, declared as
                named files in one folder (each may be wrapped in report(...)), or as one
                output.figures = directory(...)
log[0]          stderr of this script
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.analysis.plots import make_figures  # noqa: E402

out = snakemake.output  # noqa: F821
make_figures(snakemake.input.tables, out.get("figures") or list(out))  # noqa: F821
