"""Snakemake script: the HTML report → PDF (vsbench.analysis.report.render_pdf).

input.html   the rendered HTML report
output.pdf   where the PDF goes
log[0]       stderr of this script (the reason, when no PDF toolchain is present)
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.analysis.report import render_pdf  # noqa: E402

render_pdf(snakemake.input.html, snakemake.output.pdf)  # noqa: F821
