"""The gateway password and the S3 keys of a run never reach its outputs: a real experiment,
then the whole analysis on it (tables, figures, report), then every file written is scanned
for the secrets the run's platform made (issue 12, "Secrets")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory, request):
    """One short run under the cold regime, and the secrets its platform used."""
    import vsbench.platform.daemon as daemon
    from vsbench.experiment import ExperimentSpec, run_experiment
    from vsbench.platform.auth import BasicAuth
    from vsbench.platform.storage import settings_from_state

    root = tmp_path_factory.mktemp("secrets")
    secrets: list[str] = []
    real_up = daemon.platform_up

    def platform_up(*args, **kwargs):
        state = real_up(*args, **kwargs)
        user, password = BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple()
        s3 = settings_from_state(state)
        secrets.extend([password, s3.access_key, s3.secret_key])
        return state

    mp = pytest.MonkeyPatch()
    request.addfinalizer(mp.undo)
    mp.setattr(daemon, "platform_up", platform_up)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["workloads"] = {"pair": {"pattern": "burst", "burst_size": 2, "duration_s": 1}}
    config["experiment"].update(cooldown_s=0.5, app_config={"max_parallel_clips": 1})
    run_experiment(config, ExperimentSpec("cold", "pair", 1, root))
    return root, secrets


def leaks(root: Path, secrets: list[str]) -> list[str]:
    """Every file below root that holds one of the secrets."""
    return [str(p) for p in sorted(root.rglob("*")) if p.is_file()
            and any(s.encode() in p.read_bytes() for s in secrets)]


def test_no_secret_in_archive_logs_tables_figures_or_report(study):
    from vsbench.analysis.plots import make_figures
    from vsbench.analysis.report import render_report
    from vsbench.analysis.tables import aggregate

    root, secrets = study
    assert len(secrets) == 3 and all(len(s) >= 16 for s in secrets), "secrets not captured"
    aggregate(sorted(root.glob("raw/*/*/*/rep*")), root / "tables")
    make_figures(root / "tables", root / "figures")
    render_report(root / "tables", root / "figures", root / "report.html")
    files = [p for p in root.rglob("*") if p.is_file()]
    kinds = {p.suffix for p in files}
    assert {".parquet", ".jsonl", ".json", ".log", ".csv", ".svg", ".html"} <= kinds
    assert leaks(root, secrets) == []


def test_the_scan_finds_a_leaked_secret(study, tmp_path):
    """The scan reads what it claims to: a copy of a run's log with a secret in it is found,
    in a sub-folder as deep as the archive's."""
    root, secrets = study
    log = next(root.glob("raw/*/*/*/rep*/logs/daemon.log"))
    leaked = tmp_path / "raw" / "a" / "b" / "c" / "rep1" / "logs" / "daemon.log"
    leaked.parent.mkdir(parents=True)
    leaked.write_bytes(log.read_bytes() + f"\nS3 key {secrets[2]}\n".encode())
    assert leaks(tmp_path, secrets) == [str(leaked)]
