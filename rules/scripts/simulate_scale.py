"""Snakemake script: the study's run archives → the keepalive_scale table
(vsbench.sim.scale.scale_study).

input.runs          summary.json of every run (their folders are the archives)
params.simulation   the config's `simulation:` block (vsbench.sim.scale.SIM_DEFAULTS)
output.table/csv    the table as Parquet and CSV
log[0]              stderr of this script
"""
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.sim.scale import scale_study  # noqa: E402

sm = snakemake  # noqa: F821
df = scale_study([Path(p).parent for p in sm.input.runs], dict(sm.params.simulation))
df.to_parquet(sm.output.table, index=False)
df.to_csv(sm.output.csv, index=False)
