"""``vsbench experiment``: one run of one workload under one regime, archived.

Each run owns a fresh embedded platform (its own daemon, S3 server and replicas).
:class:`Experiment` runs it in three steps: prepare (build, corpus video) → run (start →
deploy the regime → optional warm-up, recorded and excluded → the open-loop workload → cool
down → stop the platform) → process (collect its logs, write and check the archive). Runs
share no state but the generated corpus video, and a failed run leaves no process behind (the
daemon is stopped in ``finally``; replicas exit with it) and no scratch folder (one a SIGKILL
left is swept by the next run: :mod:`vsbench.scratch`).
"""

from __future__ import annotations

import shutil
import sys
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
from .faults import FaultInjector, fault_tables, faults_for, parse_faults, plan_faults
from .platform.storage import StorageConfig
from .provenance import provenance
from .sampler import SystemSampler
from .scratch import Scratch, sweep_stale
from .workload.sender import RequestRecord, SenderConfig, run_open_loop

DEFAULTS: dict[str, Any] = {
    "video": "short",  # corpus preset each request processes
    "query": "cat",
    "warmup_requests": 0,  # sequential requests before the run, excluded from results
    "cooldown_s": 2.0,  # after the last answer: scale-downs land inside the window
    "max_outstanding": 32,
    "request_timeout_s": 300.0,
    "app_config": {},  # orchestrator config, e.g. {max_parallel_clips: 4}
    "retries": 0,  # the sender's retries of a 429/502/503 (OpenFaaS clients retry those)
    "faults": [],  # injected while the workload runs: vsbench.faults
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
    parse_faults(settings["faults"])  # one clear line now, not mid-run
    retries = settings["retries"]
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise VsbError(f"config experiment.retries: expected an integer ≥ 0, got {retries!r}")
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


class Experiment:
    """One run in three steps, as SeBS's experiments: :meth:`prepare` (builds, the corpus
    video, a scratch folder), :meth:`run` (the platform up, the regime deployed, warm-up and
    workload sent, the platform down) and :meth:`process` (the archive written and checked).
    :meth:`cleanup` removes the scratch folder; :func:`run_experiment` calls it on every path.

    What :meth:`process` may use besides the run's records: ``video`` (the generated corpus
    video, its ground truth beside it: :func:`vsbench.corpus.load_truth`), ``settings``,
    ``policies``, ``schedule`` and ``work`` (platform logs, events and telemetry)."""

    def __init__(self, config: dict[str, Any], spec: ExperimentSpec,
                 resolved: ResolvedExperiment | None = None):
        from .study import split_platform_label
        from .workload.schedule import build_schedule

        base_platform, self.host = split_platform_label(spec.platform)
        if base_platform != "embedded":
            raise VsbError(f"platform {spec.platform!r} is not available; choose 'embedded' "
                           "(process replicas), 'embedded-container' or 'kubernetes'")
        self.spec = spec
        self.resolved = resolved or resolve_experiment(config, spec)
        self.policies = self.resolved.policies
        self.settings = self.resolved.settings
        self.schedule = build_schedule(self.resolved.workload)
        self.out = archive_dir(spec.out_root, spec.platform, spec.regime, spec.workload,
                               spec.rep)
        self._scratch: Scratch | None = None
        self.work: Path | None = None  # scratch folder: the platform's state and logs
        self.video: Path | None = None  # the corpus video every request processes
        self.images: dict[str, Any] = {}
        self.state: dict[str, Any] = {}  # the platform's, once it is up
        self.records: list[RequestRecord] = []
        self.samples: list[dict] = []
        self.correctness: pd.DataFrame | None = None  # scored while the store is up
        self.fault_attempts: list[dict] = []  # what the injector asked for and got
        self.started = self.ended = time.time()
        self.window = (self.started, self.started)
        self.phases: dict[str, float] = {}
        self._mark = time.perf_counter()

    @property
    def tag(self) -> str:
        return f"{self.spec.regime}-{self.spec.workload}-rep{self.spec.rep}"

    def _phase(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = round(now - self._mark, 3)
        self._mark = now

    def prepare(self) -> None:
        """The functions built (and their images), the scratch folder, the corpus video."""
        from .build import deploy_images, ensure_built
        from .corpus import cache_dir, generate_preset

        self.started = time.time()
        self.window = (self.started, self.started)
        self._mark = time.perf_counter()
        ensure_built(list(self.policies))
        # container host: no image, a clear error
        self.images = deploy_images(list(self.policies), self.host)
        self._phase("build")
        sweep_stale()  # scratch folders of runs killed before they could remove them
        self._scratch = Scratch()
        self.work = self._scratch.path
        # Kept between runs: every run of a study processes the same bytes, generated once.
        self.video = generate_preset(self.settings["video"], cache_dir(), reuse=True)
        self._phase("corpus")

    def run(self) -> None:
        """Platform up → deploy → warm-up → the workload → cool down; the platform is
        stopped whatever happens (its replicas exit with it)."""
        from .platform.daemon import platform_down, platform_up

        assert self.work is not None, "prepare() first"
        platform = self.work / "platform"
        try:
            self.state = platform_up(platform, storage=self.resolved.storage,
                                     exit_with_parent=True, host=self.host)
            self._phase("platform_up")
            self._send()
        finally:
            platform_down(platform)
            self._phase("platform_down")
        self.ended = time.time()

    def _send(self) -> None:
        from functions.runtime.claimcheck import ClaimCheckStore

        from .platform.admin import GatewayAdmin
        from .platform.auth import BasicAuth
        from .platform.storage import settings_from_state

        state, settings = self.state, self.settings
        admin = GatewayAdmin(state["gateway_url"],
                             BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
        for name, policy in self.policies.items():
            admin.deploy(name, policy, self.images[name])
        admin.wait_available(list(self.policies))
        self._phase("deploy")
        store = ClaimCheckStore(settings_from_state(state))
        video_uri = store.put_file(self.video, f"inputs/{self.video.name}")

        def body_for(rec: RequestRecord) -> dict:
            return {"request_id": rec.request_id, "stage": "orchestrator",
                    "inputs": {"video": video_uri},
                    "config": {"query": settings["query"], **settings["app_config"]}}

        cfg = SenderConfig(f"{state['gateway_url']}/function/orchestrator",
                           max_outstanding=int(settings["max_outstanding"]),
                           request_timeout_s=float(settings["request_timeout_s"]),
                           drain_timeout_s=float(settings["request_timeout_s"]),
                           retries=int(settings["retries"]))
        for i in range(int(settings["warmup_requests"])):  # one at a time
            rec = RequestRecord(i, f"{self.tag}-warmup{i}", 0.0, 0.0, warmup=True)
            self.records += run_open_loop(cfg, [rec], body_for)
        self._phase("warmup")
        measured = [RequestRecord(i, f"{self.tag}-{i:05d}", off, 0.0)
                    for i, off in enumerate(self.schedule.offsets)]
        sampler = SystemSampler().start()
        progress = Progress(len(measured), self.tag)
        injector = FaultInjector(admin, plan_faults(faults_for(settings["faults"],
                                                               self.spec.workload),
                                                    self.schedule.spec.duration_s
                                                    or self.schedule.duration()),
                                 seed=self.spec.rep)
        try:
            run_open_loop(cfg, measured, body_for, progress, on_start=injector.start)
        finally:
            self.fault_attempts = injector.stop()
        progress.close()
        self._phase("run")
        time.sleep(float(settings["cooldown_s"]))
        self._phase("cooldown")
        run_start = (measured[0].scheduled_ts - cfg.lead_s) if measured else time.time()
        self.window = (run_start, time.time())
        self.samples = sampler.stop()
        self.records += measured
        self._score(store, measured)

    def _score(self, store, measured: list[RequestRecord]) -> None:
        """Score every ok request's answer while the object store is still up."""
        from .corpus import load_truth
        from .run_correctness import score_run

        self.correctness = score_run(measured, store, load_truth(self.video),
                                     self.settings["query"])
        self._phase("score")

    def process(self) -> Path:
        """The run's tables from its records and the platform's events and telemetry, its
        provenance and logs, written to the archive and checked; returns the archive folder
        (raises VsbError, after writing it, when the check fails)."""
        assert self.work is not None, "prepare() and run() first"
        spec, policies, schedule, window = self.spec, self.policies, self.schedule, self.window
        events = self.work / "platform" / "events"
        telemetry = self.work / "platform" / "telemetry"
        req_rows = []
        for rec in self.records:
            row = rec.to_dict()
            row["e2e_ms"] = (rec.outputs or {}).get("e2e_ms")
            req_rows.append(row)
        requests = pd.DataFrame(req_rows, columns=REQUEST_COLUMNS)
        memory = {fn: p.memory_mb for fn, p in policies.items()}
        invocations = build_invocations(read_jsonl(events / "gateway_invocations.jsonl"),
                                        read_jsonl(telemetry / "invocations.jsonl"), memory,
                                        {r.request_id for r in self.records if r.warmup})
        replicas = build_replicas(read_jsonl(events / "replicas.jsonl"),
                                  read_jsonl(telemetry / "replicas.jsonl"), invocations, window)
        faults, requests["fault"] = fault_tables(
            read_jsonl(events / "faults.jsonl"), self.fault_attempts, requests, invocations)
        check = check_tables(requests, invocations, len(schedule))
        prov = provenance(
            platform=spec.platform, regime=spec.regime, workload=spec.workload, rep=spec.rep,
            started_ts=self.started, ended_ts=self.ended, window=list(window),
            phases_s=self.phases,
            config={"regime": {fn: p.to_dict() for fn, p in policies.items()},
                    "workload": asdict(self.resolved.workload), "experiment": self.settings,
                    "schedule_fingerprint": schedule.fingerprint(),
                    "scheduled_requests": len(schedule)},
            builds=self.images, host=self.host, s3=self.state.get("s3_server"),
            s3_version=self.state.get("s3_version"), functions=list(FUNCTIONS))
        summary = {"check": check.to_dict(), "window_s": window[1] - window[0],
                   "scheduled": len(schedule), "invocations": len(invocations),
                   "replicas": len(replicas), "faults": len(faults)}
        write_archive(self.out, requests, invocations, replicas,
                      read_jsonl(events / "scale_events.jsonl"), self.samples, prov, summary,
                      self.correctness, faults)
        logs = self.out / "logs"
        logs.mkdir(exist_ok=True)
        platform = self.work / "platform"
        for f in [platform / "daemon.log", *(platform / "replicas").glob("*.log")]:
            if f.exists():
                shutil.copy(f, logs / f.name)
        self._phase("archive")
        print(check.sentence(), file=sys.stderr)
        print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in self.phases.items()),
              file=sys.stderr)
        if not check.ok:
            raise VsbError(f"{self.out}: {check.sentence()}")
        return self.out

    def cleanup(self) -> None:
        """Remove the scratch folder (the platform is already down)."""
        if self._scratch is not None:
            self._scratch.remove()
            self._scratch = None
            self.work = None


def run_experiment(config: dict[str, Any], spec: ExperimentSpec,
                   resolved: ResolvedExperiment | None = None) -> Path:
    """Run one experiment; return its archive folder. The scratch folder is removed on
    every path, failures and KeyboardInterrupt (SIGTERM in the CLI) included."""
    exp = Experiment(config, spec, resolved)
    try:
        exp.prepare()
        exp.run()
        return exp.process()
    finally:
        exp.cleanup()
