"""Snakemake script: the keepalive_scale table → its figure
(vsbench.analysis.plots_sim.plot_keepalive_scale).

input.table                 keepalive_scale.parquet
input.validation            sim_validation.parquet
output.keepalive_scale      the SVGs
output.sim_validation
log[0]                      stderr of this script
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

import pandas as pd  # noqa: E402

from vsbench.analysis.plots_sim import plot_keepalive_scale, plot_sim_validation  # noqa: E402

sm = snakemake  # noqa: F821
plot_keepalive_scale(pd.read_parquet(sm.input.table), sm.output.keepalive_scale)
plot_sim_validation(pd.read_parquet(sm.input.validation), sm.output.sim_validation)
