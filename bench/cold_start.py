"""Cold start of every function, decomposed: what the replica takes, and what the platform adds.

Starts the embedded platform and, for ``noop`` (the floor) and each application function of
the registry, ``--reps`` times: deploys it with min_replicas=0, max_replicas=1,
idle_timeout_s=None (so no replica runs), sends one invocation through the gateway, which
scales it from zero, then removes the function and checks that the replica's process group is
gone before the next repetition. ``--warmup`` discarded noop cold starts come first, so the
first function measured does not also pay for cold page cache and thread pools. The
envelope carries no inputs, so stages that need inputs answer 4xx; that is fine, the request
is only the trigger (it waits for the replica all the same).

Per cold start it joins three views of the same timeline (all wall-clock, one machine):

* the gateway: ``X-Vsb-Queue-Ms`` (request waiting -> lease on the new replica) and its
  invocation log's arrival time;
* the replica's own lifecycle from ``GET /_/telemetry`` of the replica that served it
  (``X-Vsb-Replica``, found in ``platform.gateway.pools[fn].slots``): spawn_ts (provider,
  before ``Popen``), runtime_up_ts (interpreter + runtime imports + HTTP bound), import_ms
  (handler module), init_ms (``init()``: model load), init_done_ts, ready_ts;
* the provider: ``ProcessReplica.ready_ts`` (when the gateway read ``VSB_READY``).

The process start is also read here from ``/proc/<pid>/stat`` against CLOCK_BOOTTIME
(10 ms ticks: +-5 ms), beside the runtime's own ``process_start_ts`` (psutil's
``create_time()``, which adds the boot time /proc/stat rounds down to whole seconds, so it can
be up to 1 s early).

platform-added = queue_ms - (ready_ts - spawn_ts): what the platform adds beyond the
replica's own start (goal <= 50 ms); split into arrival -> spawn (scaling decision, thread
hop, ``Popen``) and replica ready -> lease (``VSB_READY`` through the pipe, the thread hop
back to the loop, dispatch).

``--host container`` runs each replica as a container of the function's image (podman, or
``--engine docker``; ``VSB_CONTAINER_IMAGE`` runs one image for every function) and prints the
engine's share first: engine create (``create`` call start -> end), engine start (``start``
call -> the container's init forked, read from the host's /proc beside the runtime's own
in-container figure), runtime up (-> HTTP bound: namespaces, mounts and exec happen after that
fork, then the interpreter and runtime imports), import, init, ready, gateway added, and
create -> runtime up against its goal (``--goal-up-ms``, 300).

``--platform kubernetes`` (``--host kubernetes``) runs each replica as a pod of the function's
Deployment on the cluster of ``--kubeconfig`` (default: the local cluster of ``vsbench cluster
up``) and prints the cluster's share, as the gateway's pod watch saw it.

    python bench/cold_start.py [--reps 3] [--functions noop,asr,...] [--host container]
    python bench/cold_start.py --platform kubernetes
    python bench/cold_start.py --starter spawn,fork-server   # starters side by side

``--starter`` measures each starter in turn (the ``fork-server`` template starts with the
deployment, before the trigger, and its imports are not part of the cold start it serves; a
``prewarm`` spare is ready before the trigger, which it then serves at once),
then prints them side by side: spawn→ready and the request's wait per starter, the ratios to
``spawn``, and the memory each holds (the template's RSS: idle for as long as it lives, and a
replica's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_start_ts(pid: int) -> float | None:
    """Epoch time the process was forked, from /proc (resolution 1/CLK_TCK)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # field 22 (starttime, whole ticks since boot, rounded down; fields[0] is field 3);
    # + half a tick centres the estimate, which stays +-5 ms.
    since_boot = (int(fields[19]) + 0.5) / CLK_TCK
    now_epoch, now_boot = time.time(), time.clock_gettime(time.CLOCK_BOOTTIME)
    return now_epoch - (now_boot - since_boot)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_gone(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not group_alive(pid):
            return True
        time.sleep(0.02)
    return False


def container_gone(replica, timeout_s: float = 15.0) -> bool:
    """The container is no longer listed by the engine (--rm: stopped means removed)."""
    import subprocess

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = subprocess.run([replica.spec.exe, "ps", "--all", "--quiet", "--filter",
                              f"id={replica.container_id}"], capture_output=True, text=True)
        if out.returncode == 0 and not out.stdout.strip():
            return True
        time.sleep(0.05)
    return False


def host_pid(replica, timeout_s: float = 5.0) -> int | None:
    """A container replica learns its host pid just after start (inspect, off the critical
    path); wait for it."""
    deadline = time.monotonic() + timeout_s
    while replica.pid is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return replica.pid


def one_cold_start(platform, admin, fn: str, policy, rep: int, timeout_s: float) -> dict:
    from functions.registry import ALL_FUNCTIONS

    admin.deploy(fn, policy, platform.default_image(fn))
    pool = platform.gateway.pools[fn]
    if pool.slots:
        raise RuntimeError(f"{fn}: {len(pool.slots)} replica(s) before the trigger")
    template = getattr(pool.factory, "template", None)  # the fork-server starter's
    deadline = time.monotonic() + timeout_s
    while any(sp.state != "ready" for sp in pool.spares) and time.monotonic() < deadline:
        time.sleep(0.05)  # prewarm: the spare is ready before the trigger, as in steady use
    # what the starter holds besides the replicas serving: the template, or the spares
    held_mb = template.rss_mb() if template else sum(sp.replica.rss_mb() for sp in pool.spares)
    rid = f"cold-{fn}-{rep}"
    envelope = {"request_id": rid, "stage": fn, "inputs": {}, "config": {}}
    t0 = time.time()
    resp = requests.post(f"{platform.gateway_url}/function/{fn}", json=envelope,
                         headers={"X-Vsb-Request-Id": rid},
                         timeout=max(timeout_s, ALL_FUNCTIONS[fn].timeout_s) + 30)
    client_ms = (time.time() - t0) * 1000
    row: dict = {"function": fn, "rep": rep, "status": resp.status_code,
                 "client_ms": client_ms, "cold": resp.headers.get("X-Vsb-Cold"),
                 "template_mb": held_mb,
                 "template_ms": template.ready_ms if template else float("nan")}
    replica_id = resp.headers.get("X-Vsb-Replica")
    if "X-Vsb-Queue-Ms" in resp.headers:
        row["queue_ms"] = float(resp.headers["X-Vsb-Queue-Ms"])
    if resp.status_code >= 400:
        try:
            err = resp.json().get("error", {})
            row["error"] = f"{err.get('kind')}: {str(err.get('message'))[:90]}"
        except ValueError:
            row["error"] = resp.text[:90]
    slot = next((s for s in pool.slots if s.replica.replica_id == replica_id), None)
    if slot is None:
        row["error"] = (row.get("error") or "") + f" [replica {replica_id} not in the pool]"
        admin.remove(fn)
        return row
    replica = slot.replica
    container = replica.host == "container"
    pod = replica.host == "kubernetes"
    pid = host_pid(replica) if container else (None if pod else replica.pid)
    row["proc_start_ts"] = proc_start_ts(pid) if pid else None
    if container:
        row["create_done_ts"] = replica.create_done_ts
        row["start_call_ts"] = replica.start_call_ts
    try:
        row["life"] = replica.telemetry()["lifecycle"]
    except OSError as exc:  # the replica died serving the trigger
        row["error"] = (row.get("error") or "") + f" [no telemetry: {exc}]"
    if pod and row.get("life"):
        row["life"]["spawn_ts"] = replica.spawn_ts  # the scale call (pods share one template)
        row["pod"] = replica.lifecycle()
    row["provider_ready_ts"] = replica.ready_ts
    row["replica_mb"] = replica.rss_mb()
    arrivals = platform.logs.invocations.where(function=fn, request_id=rid)
    if arrivals:
        row["arrival_ts"] = arrivals[-1]["ts"]
    admin.remove(fn)
    if pod:
        gone = pod_gone(replica)
    else:
        gone = container_gone(replica) if container else wait_gone(pid)
    row["gone"] = gone and fn not in platform.gateway.pools
    if not row["gone"]:
        raise RuntimeError(f"{fn}: replica {replica_id} (pid {pid}) still alive after removal")
    return row


def derive(row: dict) -> dict:
    life = row.get("life")
    if not life:
        return {}
    spawn, up, done, ready = (life["spawn_ts"], life["runtime_up_ts"], life["init_done_ts"],
                              life["ready_ts"])
    ms = lambda a, b: (b - a) * 1000 if a is not None and b is not None else float("nan")  # noqa: E731
    d = {
        "spawn_proc": ms(spawn, row.get("proc_start_ts")),
        "spawn_proc_psutil": ms(spawn, life.get("process_start_ts")),
        "proc_up": ms(row.get("proc_start_ts"), up),
        "spawn_up": ms(spawn, up),
        "import": life["import_ms"],
        "init": life["init_ms"],
        "up_done": ms(up, done),
        "done_ready": ms(done, ready),
        "spawn_ready": ms(spawn, ready),
        "ready_seen": ms(ready, row.get("provider_ready_ts")),
        "queue": row.get("queue_ms", float("nan")),
        "arrival_spawn": ms(row.get("arrival_ts"), spawn),
    }
    d["added"] = d["queue"] - d["spawn_ready"]
    d["template_mb"], d["template_ms"] = row["template_mb"], row["template_ms"]
    d["replica_mb"] = row.get("replica_mb", float("nan"))
    d["ready_lease"] = d["added"] - d["arrival_spawn"]
    if row.get("pod"):  # Kubernetes: the cluster's share, as this process saw it
        k = row["pod"]
        proc = life.get("process_start_ts")
        d["k_pod"] = ms(spawn, k.get("pod_created_ts"))
        d["k_sched"] = ms(k.get("pod_created_ts"), k.get("scheduled_ts"))
        d["k_proc"] = ms(k.get("scheduled_ts"), proc)
        d["runtime_up"] = ms(proc, up)
        d["up_ready"] = ms(up, ready)
        d["k_seen"] = ms(ready, row.get("provider_ready_ts"))
        d["k_kubelet"] = ms(ready, k.get("kubelet_ready_ts"))
        # beyond the replica's own start (process start -> runtime ready)
        d["k_added"] = d["queue"] - ms(proc, ready)
    if row.get("start_call_ts"):  # container: the engine's share
        proc = row.get("proc_start_ts") or life.get("process_start_ts")
        d["create"] = ms(spawn, row["create_done_ts"])
        d["create_start"] = ms(row["create_done_ts"], row["start_call_ts"])
        d["engine_start"] = ms(row["start_call_ts"], proc)
        d["engine_start_inside"] = ms(row["start_call_ts"], life.get("process_start_ts"))
        d["runtime_up"] = ms(proc, up)
        d["up_ready"] = ms(up, ready)
        d["create_up"] = ms(spawn, up)
    return d


def med(rows: list[dict], key: str) -> float:
    vals = [r[key] for r in rows if key in r and r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def print_container_split(names: list[str], results: dict, args) -> None:
    print(f"\ncontainer cold start, median of {args.reps} (ms): create = engine create call; "
          f"start = start call -> container init forked (host /proc; the runtime's own "
          f"in-container reading beside it); runtime up = -> HTTP bound (namespaces, mounts, "
          f"exec, interpreter, runtime imports); import + init = handler; up->ready; "
          f"gateway added = queue - (ready - create call)")
    cols = [("create", "create"), ("start", "engine_start"), ("(inside)", "engine_start_inside"),
            ("runtime up", "runtime_up"), ("import", "import"), ("init", "init"),
            ("up->ready", "up_ready"), ("create->rdy", "spawn_ready"), ("gw added", "added"),
            ("create->up", "create_up")]
    print(f"{'function':<16}" + "".join(f"{c:>12}" for c, _ in cols))
    for fn in names:
        rows = [r for r in results[fn] if r]
        print(f"{fn:<16}" + "".join(f"{med(rows, k):>12.1f}" for _, k in cols))
    ups = [r["create_up"] for fn in names for r in results[fn] if r and "create_up" in r]
    if ups:
        m = statistics.median(ups)
        print(f"create -> runtime up over {len(ups)} cold starts: median {m:.1f} ms, "
              f"min {min(ups):.1f}, max {max(ups):.1f} [goal <= {args.goal_up_ms:g} ms median: "
              f"{'met' if m <= args.goal_up_ms else 'MISSED'}]")


def pod_gone(replica, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if replica.pod is None or replica.pod.gone:
            return True
        time.sleep(0.1)
    return False


def print_kubernetes_split(names: list[str], results: dict, args) -> None:
    print(f"\nKubernetes cold start, median of {args.reps} (ms), as the gateway's pod watch "
          f"saw it: pod = scale call -> pod object (Deployment and ReplicaSet controllers); "
          f"sched = -> scheduled; kubelet = -> the function's process started (the kubelet's "
          f"sync, the sandbox: pause container + CNI, then the container); runtime up, "
          f"up->ready = the replica's own; seen = ready -> the gateway's probe saw it; "
          f"k8s Ready = ready -> the kubelet's probe marked the pod Ready (unused for "
          f"routing); added = queue - (process start -> ready)")
    cols = [("pod", "k_pod"), ("sched", "k_sched"), ("kubelet", "k_proc"),
            ("runtime up", "runtime_up"), ("up->ready", "up_ready"),
            ("seen", "k_seen"), ("k8s Ready", "k_kubelet"), ("queue", "queue"),
            ("added", "k_added")]
    print(f"{'function':<16}" + "".join(f"{c:>11}" for c, _ in cols))
    for fn in names:
        rows = [r for r in results[fn] if r]
        print(f"{fn:<16}" + "".join(f"{med(rows, k):>11.1f}" for _, k in cols))
    added = [r["k_added"] for fn in names for r in results[fn] if r and "k_added" in r]
    if added:
        m = statistics.median(added)
        print(f"platform added beyond the replica's own start over {len(added)} cold starts: "
              f"median {m:.1f} ms, min {min(added):.1f}, max {max(added):.1f} "
              f"[goal <= {args.goal_k8s_ms:g} ms median: "
              f"{'met' if m <= args.goal_k8s_ms else 'MISSED'}]")


def main() -> int:
    from vsbench.platform.providers import add_host_arguments

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="cold starts per function")
    ap.add_argument("--functions", default=None,
                    help="comma-separated; default: noop and every application function")
    ap.add_argument("--warmup", type=int, default=1,
                    help="discarded noop cold starts first (page cache, thread pools)")
    ap.add_argument("--start-timeout", type=float, default=120.0,
                    help="queue_timeout_s of the deployments: longest wait for a replica")
    ap.add_argument("--goal-added-ms", type=float, default=50.0)
    add_host_arguments(ap)
    ap.add_argument("--goal-up-ms", type=float, default=300.0,
                    help="container: goal for create -> runtime up (median)")
    ap.add_argument("--goal-k8s-ms", type=float, default=1000.0,
                    help="kubernetes: goal for what the platform adds (median)")
    ap.add_argument("--platform", choices=["embedded", "kubernetes"], default=None,
                    help="kubernetes = --host kubernetes (the gateway scaling Deployments)")
    ap.add_argument("--starter", default="spawn",
                    help="comma-separated starters to compare: spawn, fork-server "
                         "(process host), prewarm")
    ap.add_argument("--k8s-ready", choices=["probe", "kubelet"], default="probe",
                    help="kubernetes: a pod is ready when the gateway's probe answers, or "
                         "only when the kubelet marks it Ready (its 1 s probe period)")
    args = ap.parse_args()
    os.environ["VSB_K8S_READY"] = args.k8s_ready
    if args.platform == "kubernetes":
        args.host = "kubernetes"
    from vsbench.platform.providers import apply_host_env

    apply_host_env(args)

    from functions.registry import ALL_FUNCTIONS, FUNCTIONS
    from vsbench.platform.embedded import EmbeddedPlatform
    from vsbench.platform.policy import ScalingPolicy

    names = args.functions.split(",") if args.functions else ["noop", *FUNCTIONS]
    unknown = [n for n in names if n not in ALL_FUNCTIONS]
    if unknown:
        ap.error(f"unknown functions {unknown}; known: {', '.join(ALL_FUNCTIONS)}")

    from vsbench.platform.policy import STARTERS

    starters = args.starter.split(",")
    if set(starters) - set(STARTERS):
        ap.error(f"unknown starters {sorted(set(starters) - set(STARTERS))}; known: "
                 f"{', '.join(STARTERS)}")
    by_starter: dict[str, tuple[dict, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="vsb-bench-") as tmp:
        with EmbeddedPlatform(Path(tmp) / "platform", host=args.host,
                              engine=args.engine) as platform:
            admin = platform.admin()
            print(f"platform up in {platform.startup_s:.2f} s (host {args.host}); "
                  f"{args.warmup} discarded noop cold start(s), then {args.reps} per function")
            warm_policy = ScalingPolicy(min_replicas=0, max_replicas=1, idle_timeout_s=None,
                                        memory_mb=ALL_FUNCTIONS["noop"].memory_mb)
            for i in range(args.warmup):
                one_cold_start(platform, admin, "noop", warm_policy, -1 - i, args.start_timeout)
            for starter, fn in ((st, fn) for st in starters for fn in names):
                results, raw = by_starter.setdefault(starter, ({}, {}))
                policy = ScalingPolicy(min_replicas=0, max_replicas=1, target_inflight=1,
                                       max_inflight=1, idle_timeout_s=None,
                                       queue_timeout_s=args.start_timeout,
                                       memory_mb=ALL_FUNCTIONS[fn].memory_mb, starter=starter)
                for rep in range(args.reps):
                    row = one_cold_start(platform, admin, fn, policy, rep, args.start_timeout)
                    d = derive(row)
                    raw.setdefault(fn, []).append(row)
                    results.setdefault(fn, []).append(d)
                    err = f"  ({row['error']})" if row.get("error") else ""
                    if d:
                        print(f"  {starter:<11} {fn:<16} rep {rep}: HTTP {row['status']} "
                              f"cold={row['cold']} "
                              f"queue {d['queue']:8.1f} ms  spawn->ready {d['spawn_ready']:8.1f}"
                              f" ms  added {d['added']:6.1f} ms{err}", flush=True)
                    else:
                        print(f"  {fn:<16} rep {rep}: HTTP {row['status']} no lifecycle{err}",
                              flush=True)
            oom = platform.logs.scale_events.where(reason="oom_killed")
            failed = platform.logs.scale_events.where(reason="start_failed")

    for starter, (results, raw) in by_starter.items():
        print(f"\n=== starter {starter} ===")
        print_tables(names, results, raw, args)
    if len(by_starter) > 1:
        print_starters(names, by_starter)
    if oom or failed:
        print(f"WARNING: oom kills {oom}; failed starts {failed}")
    return 0


def print_starters(names: list[str], by_starter: dict) -> None:
    """Per function: what each starter's cold start took, its ratio to spawn's, and the
    memory it holds (the template's RSS, idle, and the replica's)."""
    starters = list(by_starter)
    print("\nstarters side by side, medians (ms; MB): spawn->ready and what the request "
          "waited (queue), the ratio spawn / starter, what the starter holds besides (the "
          "template's RSS, or the spares') and a replica's RSS")
    head = f"{'function':<16}"
    for st in starters:
        head += f"{st + ' ready':>20}{'queue':>9}"
        if st != "spawn":
            head += f"{'x ready':>9}{'x queue':>9}{'held MB':>9}"
        head += f"{'rep MB':>8}"
    print(head)
    for fn in names:
        line = f"{fn:<16}"
        base = [r for r in by_starter.get("spawn", ({}, {}))[0].get(fn, []) if r]
        for st in starters:
            rows = [r for r in by_starter[st][0].get(fn, []) if r]
            ready, queue = med(rows, "spawn_ready"), med(rows, "queue")
            line += f"{ready:>20.1f}{queue:>9.1f}"
            if st != "spawn":
                line += (f"{med(base, 'spawn_ready') / ready:>9.1f}"
                         f"{med(base, 'queue') / queue:>9.1f}{med(rows, 'template_mb'):>9.0f}")
            line += f"{med(rows, 'replica_mb'):>8.0f}"
        print(line)


def print_tables(names: list[str], results: dict, raw: dict, args) -> None:
    print(f"\ncold start per function, median of {args.reps} (ms)")
    cols = [("spawn->up", "spawn_up"), ("import", "import"), ("init", "init"),
            ("spawn->ready", "spawn_ready"), ("queue_ms", "queue"),
            ("plat_added", "added")]
    head = f"{'function':<16}{'HTTP':>5}" + "".join(f"{c:>13}" for c, _ in cols)
    print(head)
    for fn in names:
        rows = [r for r in results[fn] if r]
        status = "/".join(sorted({str(r["status"]) for r in raw[fn]}))
        print(f"{fn:<16}{status:>5}" + "".join(f"{med(rows, k):>13.1f}" for _, k in cols))

    print(f"\nfiner split, median of {args.reps} (ms): spawn->proc = Popen until fork "
          f"(/proc, +-5 ms; psutil's figure beside it); proc->up = exec, interpreter, "
          f"runtime imports, bind; up->done = handler thread start + import + init; "
          f"done->ready = runtime's own; ready seen = VSB_READY read by the provider; "
          f"arrival->spawn + ready->lease = plat_added")
    cols2 = [("spawn->proc", "spawn_proc"), ("(psutil)", "spawn_proc_psutil"),
             ("proc->up", "proc_up"), ("up->done", "up_done"), ("done->ready", "done_ready"),
             ("ready seen", "ready_seen"), ("arr->spawn", "arrival_spawn"),
             ("ready->lease", "ready_lease")]
    print(f"{'function':<16}" + "".join(f"{c:>13}" for c, _ in cols2))
    for fn in names:
        rows = [r for r in results[fn] if r]
        print(f"{fn:<16}" + "".join(f"{med(rows, k):>13.1f}" for _, k in cols2))

    if args.host == "container":
        print_container_split(names, results, args)
    if args.host == "kubernetes":
        print_kubernetes_split(names, results, args)

    added = [r["added"] for fn in names for r in results[fn] if r]
    if added:
        worst = max(added)
        print(f"\nplatform-added over all {len(added)} cold starts: median "
              f"{statistics.median(added):.1f} ms, max {worst:.1f} ms "
              f"[goal <= {args.goal_added_ms:g} ms: "
              f"{'met' if worst <= args.goal_added_ms else 'MISSED'}]")


if __name__ == "__main__":
    sys.exit(main())
