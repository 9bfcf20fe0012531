"""Snakemake script: the simulated runs' archives → the study's tables, by the same aggregate
as the measured runs (vsbench.analysis.tables.aggregate).

input.archives  the simulated raw/ folder (validate_simulator's output)
output.tables   the tables' files, in one folder
params.seed     bootstrap seed
log[0]          stderr of this script
"""
import sys
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.analysis.tables import aggregate  # noqa: E402

sm = snakemake  # noqa: F821
runs = sorted(str(p) for p in Path(sm.input.archives).glob("*/*/*/rep*/summary.json"))
aggregate(runs, sm.output.tables, seed=sm.params.get("seed", 0))
