"""``vsbench experiment``: one run of one workload under one regime, archived.

Each run owns a fresh embedded platform (its own daemon, S3 server and replicas): start →
deploy the regime → optional warm-up (recorded, excluded) → run the open-loop workload →
cool down → stop the platform → collect its logs → write and check the archive. Runs share
no state, and a failed run leaves no process behind (the daemon is stopped in ``finally``;
replicas exit with it).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from functions.registry import FUNCTIONS

from .archive import (
    REQUEST_COLUMNS,
    archive_dir,
    build_invocations,
    build_replicas,
    check_tables,
    read_jsonl,
    write_archive,
)
from .errors import VsbError
from .platform.storage import StorageConfig
from .provenance import provenance
from .sampler import SystemSampler
from .workload.sender import RequestRecord, SenderConfig, run_open_loop

DEFAULTS: dict[str, Any] = {
    "video": "short",  # corpus preset each request processes
    "query": "cat",
    "warmup_requests": 0,  # sequential requests before the run, excluded from results
    "cooldown_s": 2.0,  # after the last answer: scale-downs land inside the window
    "max_outstanding": 32,
    "request_timeout_s": 300.0,
    "app_config": {},  # orchestrator config, e.g. {max_parallel_clips: 4}
}


@dataclass
class ExperimentSpec:
    regime: str
    workload: str
    rep: int
    out_root: Path
    platform: str = "embedded"


def experiment_settings(config: dict[str, Any]) -> dict[str, Any]:
    settings = {**DEFAULTS, **(config.get("experiment") or {})}
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise VsbError(f"config experiment: unknown keys {unknown}; known: {sorted(DEFAULTS)}")
    return settings


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, label: str):
        self.total, self.label = total, label
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, sent: int, done: int, outstanding: int) -> None:
        now = time.monotonic()
        if not self.tty or (now - self._last < 0.2 and sent < self.total):
            return
        self._last = now
        width = 30
        filled = int(width * sent / max(1, self.total))
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
                         f"{sent}/{self.total} sent, {done} done, {outstanding} in flight ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


@dataclass
class ResolvedExperiment:
    """Everything a run needs from config, resolved: what Snakemake passes as params, so a
    change to one regime reruns only that regime's runs."""

    policies: dict[str, Any]  # function -> ScalingPolicy
    workload: Any  # WorkloadSpec
    settings: dict[str, Any]
    storage: StorageConfig = field(default_factory=StorageConfig)

    def to_json(self) -> str:
        import json

        return json.dumps({"regime": {fn: p.to_dict() for fn, p in self.policies.items()},
                           "workload": {k: v for k, v in asdict(self.workload).items()
                                        if v is not None},
                           "experiment": self.settings,
                           "storage": self.storage.to_dict()}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ResolvedExperiment:
        import json

        from .platform.policy import PolicyError, ScalingPolicy
        from .workload.schedule import WorkloadSpec

        try:
            data = json.loads(text)
            policies = {fn: ScalingPolicy.from_dict(p) for fn, p in data["regime"].items()}
            workload = WorkloadSpec.from_dict(data["workload"])
        except (ValueError, KeyError, TypeError, PolicyError) as exc:
            raise VsbError(f"--spec-json is not a resolved experiment: {exc}") from None
        return cls(policies, workload, experiment_settings({"experiment": data.get(
            "experiment") or {}}), StorageConfig.from_config({"storage": data.get("storage")}))


def resolve_experiment(config: dict[str, Any], spec: ExperimentSpec) -> ResolvedExperiment:
    from .regimes import resolve_regime
    from .workload.schedule import spec_from_config

    settings = experiment_settings(config)
    policies = resolve_regime(config, spec.regime)
    try:
        wspec = spec_from_config(config.get("workloads") or {}, spec.workload)
    except ValueError as exc:
        raise VsbError(str(exc)) from None
    return ResolvedExperiment(policies, wspec, settings, StorageConfig.from_config(config))


def run_experiment(config: dict[str, Any], spec: ExperimentSpec,
                   resolved: ResolvedExperiment | None = None) -> Path:
    """Run one experiment; return its archive folder."""
    from .build import deploy_images, ensure_built
    from .corpus import generate_preset
    from .platform.admin import GatewayAdmin
    from .platform.auth import BasicAuth
    from .platform.daemon import platform_down, platform_up
    from .study import split_platform_label
    from .workload.schedule import build_schedule

    base_platform, host = split_platform_label(spec.platform)
    if base_platform != "embedded":
        raise VsbError(f"platform {spec.platform!r} is not available; choose 'embedded' "
                       "(process replicas), 'embedded-container' or 'kubernetes'")
    resolved = resolved or resolve_experiment(config, spec)
    policies, wspec, settings = resolved.policies, resolved.workload, resolved.settings
    schedule = build_schedule(wspec)
    out = archive_dir(spec.out_root, spec.platform, spec.regime, spec.workload, spec.rep)
    started = time.time()
    phases: dict[str, float] = {}
    mark = time.perf_counter()

    def phase(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = round(now - mark, 3)
        mark = now

    builds = ensure_built(list(policies))
    images = deploy_images(list(policies), host)  # container host: no image, a clear error
    phase("build")
    work = Path(tempfile.mkdtemp(prefix="vsb-exp-"))
    video = generate_preset(settings["video"], work / "corpus")
    phase("corpus")
    records: list[RequestRecord] = []
    samples: list[dict] = []
    window = (started, started)
    try:
        state = platform_up(work / "platform", storage=resolved.storage,
                            exit_with_parent=True, host=host)
        phase("platform_up")
        admin = GatewayAdmin(state["gateway_url"],
                             BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
        for name, policy in policies.items():
            admin.deploy(name, policy, images[name])
        admin.wait_available(list(policies))
        phase("deploy")
        from functions.runtime.claimcheck import ClaimCheckStore

        from .platform.storage import settings_from_state

        store = ClaimCheckStore(settings_from_state(state))
        video_uri = store.put_file(video, f"inputs/{video.name}")
        tag = f"{spec.regime}-{spec.workload}-rep{spec.rep}"

        def body_for(rec: RequestRecord) -> dict:
            return {"request_id": rec.request_id, "stage": "orchestrator",
                    "inputs": {"video": video_uri},
                    "config": {"query": settings["query"], **settings["app_config"]}}

        cfg = SenderConfig(f"{state['gateway_url']}/function/orchestrator",
                           max_outstanding=int(settings["max_outstanding"]),
                           request_timeout_s=float(settings["request_timeout_s"]),
                           drain_timeout_s=float(settings["request_timeout_s"]))
        for i in range(int(settings["warmup_requests"])):  # one at a time
            rec = RequestRecord(i, f"{tag}-warmup{i}", 0.0, 0.0, warmup=True)
            records += run_open_loop(cfg, [rec], body_for)
        phase("warmup")
        measured = [RequestRecord(i, f"{tag}-{i:05d}", off, 0.0)
                    for i, off in enumerate(schedule.offsets)]
        sampler = SystemSampler().start()
        progress = Progress(len(measured), tag)
        run_open_loop(cfg, measured, body_for, progress)
        progress.close()
        phase("run")
        time.sleep(float(settings["cooldown_s"]))
        phase("cooldown")
        run_start = (measured[0].scheduled_ts - cfg.lead_s) if measured else time.time()
        window = (run_start, time.time())
        samples = sampler.stop()
        records += measured
    finally:
        platform_down(work / "platform")
        phase("platform_down")
    ended = time.time()

    events = work / "platform" / "events"
    telemetry = work / "platform" / "telemetry"
    req_rows = []
    for rec in records:
        row = rec.to_dict()
        row["e2e_ms"] = (rec.outputs or {}).get("e2e_ms")
        req_rows.append(row)
    requests = pd.DataFrame(req_rows, columns=REQUEST_COLUMNS)
    memory = {fn: p.memory_mb for fn, p in policies.items()}
    invocations = build_invocations(read_jsonl(events / "gateway_invocations.jsonl"),
                                    read_jsonl(telemetry / "invocations.jsonl"), memory,
                                    {r.request_id for r in records if r.warmup})
    replicas = build_replicas(read_jsonl(events / "replicas.jsonl"),
                              read_jsonl(telemetry / "replicas.jsonl"), invocations, window)
    check = check_tables(requests, invocations, len(schedule))
    prov = provenance(
        platform=spec.platform, regime=spec.regime, workload=spec.workload, rep=spec.rep,
        started_ts=started, ended_ts=ended, window=list(window), phases_s=phases,
        config={"regime": {fn: p.to_dict() for fn, p in policies.items()},
                "workload": asdict(wspec), "experiment": settings,
                "schedule_fingerprint": schedule.fingerprint(),
                "scheduled_requests": len(schedule)},
        builds=images, host=host,
        s3=state.get("s3_server") if "state" in locals() else None,
        s3_version=state.get("s3_version") if "state" in locals() else None,
        functions=list(FUNCTIONS))
    summary = {"check": check.to_dict(), "window_s": window[1] - window[0],
               "scheduled": len(schedule), "invocations": len(invocations),
               "replicas": len(replicas)}
    write_archive(out, requests, invocations, replicas,
                  read_jsonl(events / "scale_events.jsonl"), samples, prov, summary)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    for f in [work / "platform" / "daemon.log", *(work / "platform" / "replicas").glob("*.log")]:
        if f.exists():
            shutil.copy(f, logs / f.name)
    shutil.rmtree(work, ignore_errors=True)
    phase("archive")
    print(check.sentence(), file=sys.stderr)
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()), file=sys.stderr)
    if not check.ok:
        raise VsbError(f"{out}: {check.sentence()}")
    return out
