"""Snakemake script: run archives → the study's tables (vsbench.analysis.tables.aggregate).

input.runs     the runs' summary.json files; each run's archive is the file's folder
output.tables  the tables: directory("results/tables"), or the list of {table}.csv/.parquet
               files in one folder (every table is written there, listed or not)
params.seed    bootstrap seed (optional, default 0)
log[0]         stderr of this script
"""
import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821 (snakemake injects it)

from vsbench.analysis.tables import aggregate  # noqa: E402

aggregate(snakemake.input.runs, snakemake.output.tables,  # noqa: F821
          seed=snakemake.params.get("seed", 0))  # noqa: F821
