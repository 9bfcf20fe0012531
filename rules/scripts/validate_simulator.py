"""Snakemake script: every run of the study simulated from its own schedule and regime and
compared with its measurement (vsbench.sim.replay.validation_table).

input.runs       summary.json of every run (their folders are the archives)
params.seed      the study's seed
output.table/csv the sim_validation table as Parquet and CSV
output.archives  the simulated runs' archives (raw/ below it, the measured runs' layout)
log[0]           stderr of this script
"""
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.sim.replay import validation_table  # noqa: E402

sm = snakemake  # noqa: F821
archives = Path(sm.output.archives)
df = validation_table([Path(p).parent for p in sm.input.runs], int(sm.params.seed),
                      write_root=archives.parent)
df.to_parquet(sm.output.table, index=False)
df.to_csv(sm.output.csv, index=False)
