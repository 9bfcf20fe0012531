"""The ``vsbench`` command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from functions.runtime.media import MAX_DURATION_S, MAX_INPUT_MB

from .errors import VsbError


def _cmd_setup(args: argparse.Namespace) -> int:
    from .setup_env import run_setup

    steps = run_setup()
    if args.containers:
        from .images.setup import run_container_setup

        steps += run_container_setup(args.engine)
    if args.cluster:
        from .cluster.setup import run_cluster_setup

        steps += run_cluster_setup(log=lambda m: print(m, file=sys.stderr))
    for step in steps:
        print(f"setup: {step.name:<18} {step.seconds:6.1f} s  {step.detail}", file=sys.stderr)
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    from .cluster.local import cluster_status, cluster_up, kubeconfig_path
    from .cluster.teardown import cluster_down

    def say(msg: str) -> None:
        print(msg, file=sys.stderr)

    if args.action == "up":
        up = cluster_up(log=say)
        say("cluster up: Kubernetes v{} in {:.1f} s (control plane {:.1f} s, node Ready "
            "{:.1f} s after containerd)".format(up.version, up.seconds["total"],
                                               up.seconds["control_plane"],
                                               up.seconds["node_ready"]))
        print(up.kubeconfig)
    elif args.action == "down":
        report = cluster_down(log=say)
        say(f"cluster down: stopped {', '.join(report['stopped']) or 'nothing'}; swept "
            f"{report['containers']} containers, {report['netns']} network namespaces, "
            f"{report['mounts']} mounts")
        if report["left"]:
            raise VsbError("cluster down left: " + "; ".join(report["left"]))
    else:
        status = cluster_status()
        if args.json:
            print(json.dumps(status, indent=1))
        elif status["up"]:
            print(f"up: Kubernetes {status['version']}, node "
                  f"{'Ready' if status.get('node_ready') else 'not Ready'}; kubeconfig "
                  f"{kubeconfig_path()}")
        else:
            print("down" + (f" (processes: {status['processes']})"
                            if status.get("processes") else ""))
            return 1
    return 0


def _cmd_corpus(args: argparse.Namespace) -> int:
    from .corpus import build_corpus

    paths = build_corpus(Path(args.out), presets=args.preset or None)
    for p in paths:
        print(p)
    return 0


def _cmd_process(args: argparse.Namespace) -> int:
    from .process import process_video

    try:
        config = json.loads(args.config) if args.config else None
    except ValueError as exc:
        raise VsbError(f"--config is not JSON ({exc}); give an object, e.g. "
                       "'{\"max_parallel_clips\": 2}'") from None
    if config is not None and not isinstance(config, dict):
        raise VsbError("--config must be a JSON object, e.g. '{\"max_parallel_clips\": 2}'")
    result = process_video(Path(args.video), query=args.query, config=config,
                           max_mb=args.max_mb, max_duration_s=args.max_duration_s)
    text = json.dumps(result, indent=2)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    print(text)
    return 0 if result.get("status") == "ok" else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from .corpus import generate_preset
    from .process import process_video

    video = generate_preset("sample", Path(args.corpus), reuse=True)
    result = process_video(video, query=args.query)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    t = result["timings"]
    print(f"{video}: {result['status']}, {len(result['clips'])} clips, "
          f"e2e {t['e2e_ms']:.0f} ms; query {args.query!r} matched clips "
          f"{[m['clip'] for m in result['matches']]}; result in {out}")
    for clip in result["clips"]:
        labels = sorted({d["label"] for f in clip["frames"] for d in f["detections"]})
        print(f"  clip {clip['index']}: {clip['start_s']:6.2f}-{clip['end_s']:6.2f} s  "
              f"labels={labels}  transcript={clip['transcript']!r}")
    return 0 if result["status"] == "ok" else 1


def _cmd_platform(args: argparse.Namespace) -> int:
    from .platform.admin import GatewayAdmin
    from .platform.auth import BasicAuth
    from .platform.daemon import platform_down, platform_up, read_state
    from .platform.storage import storage_from_args

    if args.action == "up":
        from .platform.providers import apply_host_env

        apply_host_env(args)
        state = platform_up(storage=storage_from_args(args), host=args.host, engine=args.engine,
                            cpus=args.cpus)
        host = state.get("host", "process")
        print(f"platform up: gateway {state['gateway_url']}, s3 {state['s3_url']} "
              f"({state['s3_server']} {state['s3_version']}), host {host}"
              + (f" ({state['engine']})" if host == "container" else "")
              + f", credentials in {state['basic_auth_file']}")
    elif args.action == "down":
        print("platform down" if platform_down() else "no platform was running")
    else:
        state = read_state()
        if state:
            admin = GatewayAdmin(state["gateway_url"],
                                 BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
            state["healthy"] = admin.healthy()
            state["functions"] = admin.functions() if state["healthy"] else []
        if args.json:
            print(json.dumps(state or {"running": False}, indent=1))
        elif not state:
            print("no platform running (vsbench platform up)")
        else:
            print(f"gateway {state['gateway_url']} ({'healthy' if state['healthy'] else 'DOWN'})"
                  f", s3 {state['s3_url']}, host {state.get('host', 'process')}")
            for fn in state["functions"]:
                print(f"  {fn['name']:<16} replicas {fn['availableReplicas']}/{fn['replicas']}"
                      f"  invocations {fn['invocationCount']}")
        return 0 if state else 1
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    from .build import deploy_images
    from .platform.admin import GatewayAdmin
    from .platform.auth import BasicAuth
    from .platform.daemon import read_state
    from .regimes import load_config, resolve_regime

    state = read_state()
    if not state:
        raise VsbError("no platform running; start one with: vsbench platform up")
    policies = resolve_regime(load_config(Path(args.config) if args.config else None),
                              args.regime, args.function or None)
    images = deploy_images(list(policies), state.get("host", "process"))
    admin = GatewayAdmin(state["gateway_url"],
                         BasicAuth.from_file(Path(state["basic_auth_file"])).as_tuple())
    for name, policy in policies.items():
        how = admin.deploy(name, policy, images[name])
        print(f"{how} {name}: {images[name]} min {policy.min_replicas} max "
              f"{policy.max_replicas} idle {policy.idle_timeout_s} s", file=sys.stderr)
    admin.wait_available(list(policies))
    print(f"regime {args.regime} deployed", file=sys.stderr)
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from functions.registry import ALL_FUNCTIONS, FUNCTIONS, get_spec

    from .build import build_function

    # images: the noop control too (benchmarks and tests measure the platform with it)
    default = ALL_FUNCTIONS if args.images else FUNCTIONS
    try:
        names = [get_spec(n).name for n in args.function or list(default)]
    except KeyError as exc:
        raise VsbError(exc.args[0]) from None
    if args.images:
        return _build_images(names, args)
    for name in names:
        rec = build_function(name)
        print(f"{name:<16} {rec.image}  {rec.seconds:6.2f} s  {'; '.join(rec.steps)}")
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.json").write_text(json.dumps(asdict(rec), indent=1))
    return 0


def _build_images(names: list[str], args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .images import build_image, find_engine
    from .images.base import DEFAULT_BASE

    engine = find_engine(args.engine)
    for name in names:
        rec = build_image(name, engine, base=args.base or DEFAULT_BASE, force=args.force)
        how = f"built in {rec.seconds:6.1f} s" if rec.built else "up to date      "
        if not rec.built and rec.build_seconds is not None:
            how += f" (built in {rec.build_seconds:.1f} s)"
        print(f"{name:<16} {rec.tag:<44} {how}  {rec.size_mb:7.1f} MB  "
              f"{len(rec.layers)} layers")
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{name}.image.json").write_text(json.dumps(asdict(rec), indent=1))
    return 0


def _workload_spec(args: argparse.Namespace):
    from .regimes import load_config
    from .workload.schedule import WorkloadSpec, spec_from_config

    if args.name:
        return spec_from_config(load_config(Path(args.config) if args.config else None)
                                .get("workloads") or {}, args.name)
    if not args.pattern:
        raise VsbError("give --pattern (steady, poisson, burst, ramp, trace) or --name of a "
                       "workload in config/config.yaml")
    fields = {"pattern": args.pattern, "rate": args.rate, "duration_s": args.duration,
              "max_requests": args.max_requests, "seed": args.seed,
              "start_rate": args.start_rate, "end_rate": args.end_rate,
              "burst_size": args.burst_size, "burst_every_s": args.burst_every,
              "trace_path": args.trace, "trace_function": args.trace_function,
              "time_scale": args.time_scale, "rate_scale": args.rate_scale}
    return WorkloadSpec.from_dict({k: v for k, v in fields.items() if v is not None})


def _cmd_workload(args: argparse.Namespace) -> int:
    from .workload.runner import run_workload
    from .workload.schedule import build_schedule

    schedule = build_schedule(_workload_spec(args))
    if args.dry_run:
        sys.stdout.write(schedule.to_lines())
        return 0
    summary = run_workload(schedule, video=Path(args.video) if args.video else None,
                           gateway=args.gateway, function=args.function, query=args.query,
                           out=Path(args.out) if args.out else None,
                           max_outstanding=args.max_outstanding)
    print(json.dumps(summary, indent=1))
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    import signal

    from .experiment import ExperimentSpec, ResolvedExperiment, run_experiment
    from .regimes import load_config
    from .study import with_sweep_regimes

    # Snakemake (or a user) stopping us with SIGTERM must still run the cleanup in
    # run_experiment's finally: stop the platform, leave no process behind.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    from .platform.providers import apply_host_env

    apply_host_env(args)
    spec = ExperimentSpec(args.regime, args.workload, args.rep, Path(args.out), args.platform)
    if args.spec_json:
        out = run_experiment({}, spec, ResolvedExperiment.from_json(args.spec_json))
    else:
        config = with_sweep_regimes(load_config(Path(args.config) if args.config else None))
        out = run_experiment(config, spec)
    print(out)
    return 0


def _cmd_cost(args: argparse.Namespace) -> int:
    from .analysis.cost import request_costs, run_cost
    from .archive import load_archive

    path = Path(args.archive)
    if not (path / "requests.parquet").exists():
        raise VsbError(f"{path}: not a run archive (no requests.parquet); give a folder like "
                       "results/raw/embedded/cold/burst/rep1")
    a = load_archive(path)
    cost = run_cost(a["requests"], a["invocations"], a["replicas"])
    if args.per_request:
        request_costs(a["requests"], a["invocations"], a["replicas"]).to_csv(
            args.per_request, index=False)
    print(json.dumps(cost.to_dict(), indent=1))
    return 0


def _cmd_manifests(args: argparse.Namespace) -> int:
    import os

    from .manifests import render_manifests, write_manifests
    from .platform.storage import S3Credentials
    from .regimes import load_config

    config_path = Path(args.config) if args.config else None
    creds_file = args.s3_credentials or os.environ.get("VSB_STORAGE_CREDENTIALS_FILE")
    manifests = render_manifests(
        load_config(config_path), args.platform, args.regime,
        source=args.config or "config/config.yaml", namespace=args.namespace,
        image_prefix=args.image_prefix,
        credentials=S3Credentials.load(Path(creds_file)) if creds_file else None)
    for path in write_manifests(manifests, Path(args.out) / args.platform / args.regime):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .images.engine import ENGINES
    from .platform.providers import add_host_arguments
    from .platform.storage import add_storage_arguments

    p = argparse.ArgumentParser(prog="vsbench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("setup", help="provision models and caches (run once after install)")
    s.add_argument("--containers", action="store_true",
                   help="also set up the container host: engine, debootstrap (installed as "
                        "root), engine settings, the base image")
    s.add_argument("--engine", default=ENGINES[0], choices=list(ENGINES))
    s.add_argument("--cluster", action="store_true",
                   help="also set up the local Kubernetes cluster: containerd, runc, CNI "
                        "plugins (installed as root), Kubernetes and etcd built from Go modules")
    s.set_defaults(func=_cmd_setup)

    s = sub.add_parser("cluster", help="a real single-node Kubernetes on this machine (root)")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument("--json", action="store_true", help="status as JSON")
    s.set_defaults(func=_cmd_cluster)

    s = sub.add_parser("corpus", help="generate the synthetic test corpus with ground truth")
    s.add_argument("--out", default="data/generated", help="output folder")
    s.add_argument("--preset", action="append",
                   help="preset(s) from data/corpus.yaml (default: all)")
    s.set_defaults(func=_cmd_corpus)

    s = sub.add_parser("process", help="run one video through VideoSearcher on this machine")
    s.add_argument("video", help="video file (MP4, MKV, WebM...)")
    s.add_argument("--query", default="", help="what to search for, e.g. 'cat'")
    s.add_argument("--out", help="also write the result JSON to this file")
    s.add_argument("--config", help="JSON object of orchestrator config overrides")
    s.add_argument("--max-mb", type=float, default=MAX_INPUT_MB,
                   help=f"refuse a larger file (default {MAX_INPUT_MB:g})")
    s.add_argument("--max-duration-s", type=float, default=MAX_DURATION_S,
                   help=f"refuse a longer video (default {MAX_DURATION_S:g})")
    s.set_defaults(func=_cmd_process)

    s = sub.add_parser("platform", help="the embedded platform (gateway + S3) in the background")
    s.add_argument("action", choices=["up", "down", "status"])
    s.add_argument("--json", action="store_true", help="status as JSON")
    add_storage_arguments(s)
    add_host_arguments(s, "up: ")
    s.set_defaults(func=_cmd_platform)

    s = sub.add_parser("deploy", help="(re)deploy every function under a regime")
    s.add_argument("--regime", required=True, help="a regime of config/config.yaml")
    s.add_argument("--config", help="config file (default config/config.yaml)")
    s.add_argument("--function", action="append",
                   help="deploy only this function (repeatable; default: the whole app)")
    s.set_defaults(func=_cmd_deploy)

    s = sub.add_parser("build", help="fingerprinted per-function builds (caches, models)")
    s.add_argument("function", nargs="*", help="functions (default: all)")
    s.add_argument("--out", help="also write each build record to OUT/FUNCTION.json")
    s.add_argument("--images", action="store_true",
                   help="build container images (vsbench/<function>:<fingerprint>)")
    s.add_argument("--base", help="base image (default: the debootstrap one that "
                                  "`vsbench setup --containers` builds), e.g. python:3.11-slim")
    s.add_argument("--engine", default=ENGINES[0], choices=list(ENGINES))
    s.add_argument("--force", action="store_true", help="rebuild even when up to date")
    s.set_defaults(func=_cmd_build)

    s = sub.add_parser("workload", help="an open-loop workload: print its schedule or send it")
    s.add_argument("--name", help="a workload of config/config.yaml")
    s.add_argument("--config", help="config file (default config/config.yaml)")
    s.add_argument("--pattern", choices=["steady", "poisson", "burst", "ramp", "trace"])
    s.add_argument("--rate", type=float, help="requests per second (steady, poisson)")
    s.add_argument("--duration", type=float, help="seconds to run (bound in time)")
    s.add_argument("--max-requests", type=int, help="bound in count")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--start-rate", type=float, help="ramp: rate at the start")
    s.add_argument("--end-rate", type=float, help="ramp: rate at the end")
    s.add_argument("--burst-size", type=int, help="burst: requests at once")
    s.add_argument("--burst-every", type=float, help="burst: seconds between bursts")
    s.add_argument("--trace", help="trace: Azure Functions 2019 per-minute CSV")
    s.add_argument("--trace-function", help="trace: HashFunction to replay (default busiest)")
    s.add_argument("--time-scale", type=float, help="trace: trace seconds per replay second")
    s.add_argument("--rate-scale", type=float, help="trace: multiply per-minute counts")
    s.add_argument("--dry-run", action="store_true",
                   help="print the schedule (one offset in seconds per line), send nothing")
    s.add_argument("--gateway", help="gateway URL (default: the running platform)")
    s.add_argument("--function", default="orchestrator", help="function to invoke")
    s.add_argument("--video", help="video each request processes (orchestrator)")
    s.add_argument("--query", default="cat")
    s.add_argument("--max-outstanding", type=int, default=64)
    s.add_argument("--out", help="write one JSON line per request here")
    s.set_defaults(func=_cmd_workload)

    s = sub.add_parser("experiment", help="one workload under one regime, archived")
    s.add_argument("--regime", required=True)
    s.add_argument("--workload", required=True)
    s.add_argument("--rep", type=int, default=1)
    s.add_argument("--out", default="results", help="archive root (results/raw/... below)")
    s.add_argument("--platform", default="embedded",
                   help="embedded (process replicas), embedded-container, or kubernetes")
    s.add_argument("--kubeconfig", help="--platform kubernetes: the cluster (default: "
                                        "$KUBECONFIG, else the local cluster)")
    s.add_argument("--registry", help="--platform kubernetes on a real cluster: push images "
                                      "here (default: import into the local cluster)")
    s.add_argument("--config", help="config file (default config/config.yaml)")
    s.add_argument("--spec-json", help="the resolved regime, workload and settings as JSON "
                                       "(what the pipeline passes; overrides --config)")
    s.set_defaults(func=_cmd_experiment)

    s = sub.add_parser("cost", help="the cost model over one run archive (GB-s, FAVE units)")
    s.add_argument("archive", help="a run folder: results/raw/PLATFORM/REGIME/WORKLOAD/repK")
    s.add_argument("--per-request", help="also write per-request costs to this CSV")
    s.set_defaults(func=_cmd_cost)

    s = sub.add_parser("manifests", help="Kubernetes manifests of every function under a "
                                         "regime (plain, OpenFaaS or Knative)")
    s.add_argument("--platform", required=True, help="kubernetes, openfaas or knative")
    s.add_argument("--regime", required=True, help="a regime of the config")
    s.add_argument("--out", default="manifests",
                   help="files go to OUT/PLATFORM/REGIME/ (default manifests)")
    s.add_argument("--config", help="config file (default config/config.yaml)")
    s.add_argument("--image-prefix", help="registry path replacing localhost/vsbench in "
                                          "image names, e.g. registry.example:5000/vsbench")
    s.add_argument("--namespace", help="namespace (default vsbench; openfaas-fn for openfaas)")
    s.add_argument("--s3-credentials", help="YAML file with access_key and secret_key for the "
                                            "object store's Secret (default: random keys) "
                                            "[env VSB_STORAGE_CREDENTIALS_FILE]")
    s.set_defaults(func=_cmd_manifests)

    from .sim.cli import add_parser as add_simulate

    add_simulate(sub)

    s = sub.add_parser("demo", help="generate the sample video and process it (the main job "
                                    "until the study pipeline lands)")
    s.add_argument("--corpus", default="data/generated", help="where the sample video goes")
    s.add_argument("--query", default="motorcycle")
    s.add_argument("--out", default="results/demo/result.json")
    s.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except VsbError as exc:
        print(f"vsbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"vsbench {args.command}: error: --config is not valid JSON: {exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
