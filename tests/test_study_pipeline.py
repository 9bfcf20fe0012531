"""The quick study through Snakemake, end to end, in a scratch copy of the workflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
WORKFLOW = ["Snakefile", "rules", "config", "report", "paper", "notebooks", "profiles"]


def _snakemake(cwd: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    # The notebook rule runs jupyter-nbconvert from PATH: put this venv's bin first.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("study")
    for name in WORKFLOW:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    proc = _snakemake(work, "--cores", "all", "--configfile", "config/quick.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_every_run_is_archived_completely(study):
    runs = sorted((study / "results" / "quick" / "raw").glob("*/*/*/rep*/summary.json"))
    names = {"/".join(p.parts[-5:-1]) for p in runs}
    assert names == {"embedded/cold/twice/rep1", "embedded/warm/twice/rep1",
                     "embedded/sweep-idle-2s/twice/rep1", "embedded/sweep-idle-30s/twice/rep1"}
    for path in runs:
        summary = json.loads(path.read_text())
        assert summary["check"]["ok"], summary
        req = pd.read_parquet(path.parent / "requests.parquet")
        assert req.groupby("request_id").size().eq(1).all()  # one terminal record each
        assert req["status"].notna().all()


def test_tables_figures_report_and_notebook_exist(study):
    out = study / "results" / "quick"
    for table in ["runs", "latency", "cold_starts", "cost", "sweeps", "pareto", "start_classes",
                  "correctness", "comparisons"]:
        df = pd.read_parquet(out / "tables" / f"{table}.parquet")
        assert (out / "tables" / f"{table}.csv").exists()
        if table != "comparisons":
            assert len(df) > 0, table
    sweeps = pd.read_parquet(out / "tables" / "sweeps.parquet")
    assert sorted(sweeps["value"]) == [2.0, 10.0, 30.0]  # the two points and cold's own 10 s
    correctness = pd.read_parquet(out / "tables" / "correctness.parquet")
    assert (correctness["scored"] == correctness["ok_requests"]).all()
    assert not correctness["differs"].any()  # the same answer under every regime
    for fig in ["latency", "cold_starts", "cost", "sweeps", "pareto", "load"]:
        assert (out / "figures" / f"{fig}.svg").read_text().lstrip().startswith(("<?xml",
                                                                                 "<svg"))
    html = (out / "report.html").read_text()
    assert "RQ1" in html and "RQ2" in html and "RQ3" in html and "Correctness" in html
    assert (out / "notebooks" / "explore.ipynb").exists()
    assert len(pd.read_csv(out / "notebooks" / "summary.csv")) > 0



def test_keepalive_at_scale_is_simulated_from_the_studys_runs(study):
    out = study / "results" / "quick"
    ks = pd.read_parquet(out / "tables" / "keepalive_scale.parquet")
    assert list(ks["policy"]) == ["fixed-10s", "fixed-60s", "fixed-600s", "histogram",
                                  "oracle-10s", "oracle-60s", "oracle-600s"]
    assert ks["calls"].nunique() == 1 and ks["calls"].iloc[0] > 0
    assert ks["times_from"].iloc[0].startswith("4 run archive(s)")
    assert (out / "figures" / "keepalive_scale.svg").read_text().lstrip().startswith("<")
    html = (out / "report.html").read_text()
    assert "Keep-alive policies at scale (simulated)" in html and "histogram" in html
    val = pd.read_parquet(out / "tables" / "sim_validation.parquet")
    assert sorted(val["regime"]) == ["cold", "sweep-idle-2s", "sweep-idle-30s", "warm"]
    assert (val["sim_p50_ms"] > 0).all() and val["sim_gb_s"].notna().all()
    assert (out / "figures" / "sim_validation.svg").read_text().lstrip().startswith("<")
    assert "The simulator against the measurement" in html
    # each simulation is an archive too, and the same tables come out of them
    sim_runs = pd.read_parquet(out / "simulated" / "tables" / "runs.parquet")
    assert sorted(sim_runs["regime"]) == sorted(val["regime"]) and sim_runs["simulated"].all()
    assert not pd.read_parquet(out / "tables" / "runs.parquet")["simulated"].any()
    sim_lat = pd.read_parquet(out / "simulated" / "tables" / "latency.parquet")
    assert sorted(sim_lat["p50_ms"].round(3)) == sorted(val["sim_p50_ms"].round(3))


def test_nothing_to_do_after_a_full_run(study):
    proc = _snakemake(study, "-n", "--configfile", "config/quick.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_one_regime_reruns_only_its_runs(study):
    quick = (study / "config" / "quick.yaml").read_text()
    changed = study / "config" / "changed.yaml"
    changed.write_text(quick + "\nregimes:\n  warm:\n    max_replicas: 3\n")
    proc = _snakemake(study, "-n", "--configfile", "config/quick.yaml", "config/changed.yaml")
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (proc.stdout + proc.stderr).splitlines()
    experiments = [lines[i + k].strip() for i, line in enumerate(lines)
                   if line.strip() == "rule experiment:" for k in range(1, 12)
                   if i + k < len(lines) and lines[i + k].strip().startswith("wildcards:")]
    assert experiments == ["wildcards: platform=embedded, regime=warm, workload=twice, rep=1"]
    assert "rule build_function:" not in "\n".join(lines)


def test_single_table_rerun_and_report(study):
    proc = _snakemake(study, "--cores", "1", "--configfile", "config/quick.yaml",
                      "--forcerun", "plot", "results/quick/figures/cost.svg")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = _snakemake(study, "--configfile", "config/quick.yaml", "--report",
                      "results/quick/snakemake-report.html")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (study / "results" / "quick" / "snakemake-report.html").stat().st_size > 1000


@pytest.mark.parametrize("name, experiments", [
    ("full.yaml", 160), ("faults.yaml", 3), ("starters.yaml", 18), ("keepalive.yaml", 6)])
def test_shipped_studies_validate_and_plan(tmp_path, name, experiments):
    """Each shipped study passes the schema and plans the runs its comments promise."""
    for part in WORKFLOW:
        src = REPO / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / part)
    proc = _snakemake(tmp_path, "-n", "--configfile", f"config/{name}", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts = dict(line.split()[:2] for line in proc.stdout.splitlines()
                  if line.split()[:1] == ["experiment"] and len(line.split()) >= 2)
    assert counts == {"experiment": str(experiments)}, proc.stdout[-2000:]
