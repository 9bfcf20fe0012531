"""Snakemake script: the keepalive_scale table → its figure
(vsbench.analysis.plots_sim.plot_keepalive_scale).

input.table                 keepalive_scale.parquet
output.keepalive_scale      the SVG
log[0]                      stderr of this script
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

import pandas as pd  # noqa: E402

from vsbench.analysis.plots_sim import plot_keepalive_scale  # noqa: E402

sm = snakemake  # noqa: F821
plot_keepalive_scale(pd.read_parquet(sm.input.table), sm.output.keepalive_scale)
