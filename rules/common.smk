import sys
from pathlib import Path

from functions.registry import FUNCTIONS
from vsbench.analysis.tables import TABLE_COLUMNS
from vsbench.archive import RUN_DIR
from vsbench.build import function_sources
from vsbench.experiment import ExperimentSpec, resolve_experiment
from vsbench.study import split_platform_label, study_runs, with_sweep_regimes

STUDY = with_sweep_regimes(config)
RUNS = study_runs(STUDY)
RESULTS = config["study"].get("results", "results")
REPORT = config["study"].get("report", "paper/report.html")
# Rules call the CLI of the package installed beside this Snakemake, whatever PATH says.
VSBENCH = f"{sys.executable} -m vsbench.cli"
TABLES = list(TABLE_COLUMNS)


wildcard_constraints:
    platform="[a-z]+(-[a-z]+)?",
    regime="[A-Za-z0-9._-]+",
    workload="[A-Za-z0-9._-]+",
    rep="[0-9]+",
    function="[a-z0-9-]+",


def run_summaries(wildcards=None):
    """The summary.json of every run of the study (the archive's completion marker)."""
    return [f"{RESULTS}/{run.path}/summary.json" for run in RUNS]


def experiment_builds(wildcards):
    """A run needs every function built; on the container and Kubernetes hosts, every
    image too."""
    records = [f"{RESULTS}/builds/{fn}.json" for fn in FUNCTIONS]
    if split_platform_label(wildcards.platform)[1] in ("container", "kubernetes"):
        records += [f"{RESULTS}/builds/{fn}.image.json" for fn in FUNCTIONS]
    return records


def build_sources(wildcards):
    """What a function's build depends on: its sources and the runtime's."""
    return function_sources(wildcards.function)


def experiment_spec(wildcards):
    """The resolved regime, workload and settings of one run, as JSON. As a param, a change
    to one regime or workload reruns only the runs that use it."""
    spec = ExperimentSpec(
        wildcards.regime, wildcards.workload, int(wildcards.rep), RESULTS, wildcards.platform
    )
    return resolve_experiment(STUDY, spec).to_json()
