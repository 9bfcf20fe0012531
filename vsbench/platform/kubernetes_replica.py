"""Replicas as pods of a Kubernetes Deployment, scaled by the gateway (faas-netes' part).

Each function is a Deployment (plus a Service) in the provider's namespace. A replica of the
scaling pool is one of its pods: starting a replica raises the Deployment's replica count and
claims the oldest pod nobody has claimed; stopping one deletes its pod first and lowers the
count only once the pod is terminating, so the ReplicaSet, which no longer counts a
terminating pod, can only remove a pod nobody claimed (a replacement it may have started in
between ranks below every running pod, being unscheduled or pending). Leaving the choice to
the ReplicaSet, even with the victim at the lowest ``controller.kubernetes.io/pod-deletion-cost``,
lost the other pod in CI: the ReplicaSet ranks any unready pod before deletion costs, and a
readiness probe can miss on a loaded machine. The cost is still set, for a controller acting
on a stale cache. Scale operations of one function run one at a time.

One watch per provider (every pod labelled with the platform) keeps each pod's state and the
moment this process saw each milestone (created, scheduled, address and container running as
the kubelet reports them, Ready): the platform's share of a cold start, on the gateway's clock.
A replica is ready when the kubelet marks its pod Ready or, sooner, when the gateway's own
probe of the runtime's ``/_/ready`` on the pod address answers 200 (as Knative's activator
probes pods itself); both times are recorded.

A start fails at once when the container's waiting reason is one the kubelet will not get
past (:data:`FATAL_REASONS`: no image, a crash loop, an OOM kill); a reason the kubelet
retries on its next pod sync (:data:`RETRIED_REASONS`, such as ``CreateContainerConfigError:
failed to sync secret cache``, seen when a pod's node has not yet been granted its secret)
fails the start only once it has lasted :data:`RETRIED_GRACE_S`.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..errors import VsbError

PORT = 8080
LABEL_FUNCTION = "vsbench.function"
LABEL_PLATFORM = "vsbench.platform"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
VICTIM_COST = str(-(2**31 - 1))
FATAL_REASONS = ("ErrImageNeverPull", "CrashLoopBackOff", "ErrImagePull", "InvalidImageName",
                 "Error", "OOMKilled")
RETRIED_REASONS = ("CreateContainerConfigError", "CreateContainerError")
RETRIED_GRACE_S = 15.0


@dataclass
class PodView:
    """What the watch knows of one pod, and when this process first saw each milestone."""

    name: str
    function: str
    created_ts: float
    uid: str = ""
    scheduled_ts: float | None = None
    ip: str | None = None
    ip_ts: float | None = None
    running_ts: float | None = None
    ready_ts: float | None = None
    restarts: int = 0
    deleting: bool = False
    gone: bool = False
    phase: str = "Pending"
    ready: bool = False
    node: str | None = None
    reason: str = ""  # waiting/terminated reason of its container, if any
    message: str = ""  # and its message
    reason_ts: float | None = None  # when this reason was first seen
    # the pod's own record (whole seconds): condition type -> lastTransitionTime, and its
    # container's startedAt; PodReadyToStartContainers is the sandbox (pause + CNI) ready
    conditions: dict[str, float] = field(default_factory=dict)
    started_at: float | None = None


def update_view(view: PodView, pod, now: float) -> None:
    view.uid = pod.metadata.uid or view.uid
    view.node = pod.spec.node_name
    if view.node and view.scheduled_ts is None:
        view.scheduled_ts = now
    view.phase = pod.status.phase or "Pending"
    if pod.status.pod_ip and view.ip is None:
        view.ip, view.ip_ts = pod.status.pod_ip, now
    view.deleting = pod.metadata.deletion_timestamp is not None
    for cs in pod.status.container_statuses or []:
        view.restarts = cs.restart_count or 0
        if cs.state and cs.state.running and view.running_ts is None:
            view.running_ts = now
        st = cs.state.waiting or cs.state.terminated if cs.state else None
        reason = (st.reason or "") if st else ""
        if reason != view.reason:
            view.reason_ts = now
        view.reason, view.message = reason, (st.message or "") if st else ""
    for c in pod.status.conditions or []:
        if c.status == "True" and c.last_transition_time is not None:
            view.conditions[c.type] = c.last_transition_time.timestamp()
    for cs in pod.status.container_statuses or []:
        if cs.state and cs.state.running and cs.state.running.started_at:
            view.started_at = cs.state.running.started_at.timestamp()
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    view.ready = ready
    if ready and view.ready_ts is None:
        view.ready_ts = now


class FunctionScaler:
    """One function's Deployment: its replica count, its pods, and who has claimed which."""

    def __init__(self, provider, function: str, deployment: str):
        self.provider = provider
        self.function = function
        self.deployment = deployment
        self.pods: dict[str, PodView] = {}
        self.claimed: dict[str, str] = {}  # pod name -> replica id
        self.members = 0  # replicas started and not yet released: the replica count
        self.cond = threading.Condition()
        self.op_lock = threading.Lock()  # one scale operation at a time

    # --- the watch feeds these ------------------------------------------------------------
    def observe(self, kind: str, pod, now: float) -> None:
        with self.cond:
            name = pod.metadata.name
            view = self.pods.get(name)
            if view is None:
                if kind == "DELETED":
                    return
                view = self.pods[name] = PodView(name, self.function, now)
            update_view(view, pod, now)
            if kind == "DELETED":
                view.gone = True
                self.pods.pop(name, None)
            self.cond.notify_all()

    # --- scaling --------------------------------------------------------------------------
    def _set_replicas(self) -> None:
        self.provider.apps.patch_namespaced_deployment_scale(
            self.deployment, self.provider.namespace, {"spec": {"replicas": self.members}},
            _request_timeout=30)

    def claim(self, replica_id: str, timeout_s: float) -> PodView:
        """Add one pod to the Deployment and claim it (the oldest unclaimed one)."""
        with self.op_lock:
            with self.cond:
                self.members += 1
            self._set_replicas()
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                free = [v for v in self.pods.values()
                        if v.name not in self.claimed and not v.deleting and not v.gone]
                if free:
                    view = min(free, key=lambda v: v.created_ts)
                    self.claimed[view.name] = replica_id
                    return view
                left = deadline - time.monotonic()
                if left <= 0:
                    self.members -= 1
                    break
                self.cond.wait(min(left, 1.0))
        with self.op_lock:
            self._set_replicas()
        raise VsbError(f"no pod of {self.deployment} appeared within {timeout_s:.0f} s "
                       f"(namespace {self.provider.namespace}); see the Deployment's events")

    def release(self, view: PodView | None, grace_s: float, force: bool = False) -> None:
        """Remove the claimed pod ``view`` (or, when it is gone, one pod) from the count."""
        with self.op_lock:
            alive = view is not None and not view.gone and not view.deleting
            if alive:
                try:
                    self.provider.core.patch_namespaced_pod(
                        view.name, self.provider.namespace,
                        {"metadata": {"annotations": {DELETION_COST: VICTIM_COST}}},
                        _request_timeout=30)
                except Exception as exc:  # noqa: BLE001 - best effort; only "gone" matters
                    alive = getattr(exc, "status", None) != 404
            if alive:
                # Only once the pod is seen terminating may the count drop (module doc): a
                # delete the API did not take is tried again.
                grace = 0 if force or grace_s <= 0 else math.ceil(grace_s)
                for _ in range(3):
                    if self.provider.delete_pod(view.name, grace) and \
                            self._wait_deleting(view, 10.0):
                        break
                else:
                    print(f"pod {view.name} was not seen terminating; lowering the count "
                          "anyway", file=sys.stderr, flush=True)
            with self.cond:
                self.members = max(0, self.members - 1)
                if view is not None:
                    self.claimed.pop(view.name, None)
            self._set_replicas()

    def _wait_deleting(self, victim: PodView, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while time.monotonic() < deadline and not (victim.deleting or victim.gone):
                self.cond.wait(0.5)
            return victim.deleting or victim.gone


@dataclass
class KubernetesReplica:
    function: str
    replica_id: str
    scaler: FunctionScaler
    memory_mb: int
    probe: bool = True  # ready when our own /_/ready probe answers, not only when kubelet says
    probe_path: str = "/_/ready"  # of-watchdog images: /_/health
    spawn_ts: float = 0.0
    scaled_ts: float | None = None  # the replica-count patch returned
    ready_ts: float | None = None
    probe_ready_ts: float | None = None
    pod: PodView | None = None
    runtime: dict[str, Any] = field(default_factory=dict)  # the runtime's own lifecycle
    init_error: str | None = None
    _released: bool = field(default=False, repr=False)
    _killed: bool = field(default=False, repr=False)
    _restarts0: int = field(default=0, repr=False)
    _host_pid: int | None = field(default=None, repr=False)

    host = "kubernetes"

    @property
    def url(self) -> str:
        return f"http://{self.pod.ip}:{PORT}" if self.pod and self.pod.ip else ""

    @property
    def pid(self) -> int | None:
        """The runtime's pid as this host sees it (local cluster), else None."""
        if self._host_pid is None and self.pod is not None and self.scaler.provider.local:
            self._host_pid = host_pid_of(self.pod.name)
        return self._host_pid

    def spawn(self) -> None:
        self.spawn_ts = time.time()
        self.pod = self.scaler.claim(self.replica_id, self.scaler.provider.start_timeout_s)
        self.scaled_ts = time.time()
        self._restarts0 = self.pod.restarts

    def _probe(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}{self.probe_path}", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        cond, view = self.scaler.cond, self.pod
        reason = f"not ready after {timeout_s:.0f} s"
        while time.monotonic() < deadline:
            with cond:
                if view.gone or view.deleting:
                    reason = "its pod was deleted during start-up"
                    break
                if view.reason in FATAL_REASONS or (
                        view.reason in RETRIED_REASONS
                        and time.time() - (view.reason_ts or 0.0) >= RETRIED_GRACE_S):
                    reason = f"pod {view.name}: {view.reason}" + (
                        f" ({view.message})" if view.message else "")
                    break
                if view.ready:
                    self.ready_ts = time.time()
                    break
                has_ip = view.ip is not None and view.running_ts is not None
                if not has_ip or not self.probe:
                    cond.wait(0.5)
                    continue
            if self._probe():
                self.probe_ready_ts = self.ready_ts = time.time()
                break
            time.sleep(0.02)
        if self.ready_ts is None:
            self.init_error = reason
            self.stop()
            raise VsbError(f"replica {self.replica_id} of {self.function} ({reason}); see "
                           f"the pod's events in namespace {self.scaler.provider.namespace}")
        self._read_runtime()

    def _read_runtime(self) -> None:
        try:
            with urllib.request.urlopen(f"{self.url}/_/telemetry", timeout=5) as resp:
                self.runtime = json.loads(resp.read()).get("lifecycle") or {}
        except (OSError, ValueError):
            self.runtime = {}

    def telemetry(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_/telemetry", timeout=5) as resp:
            return json.loads(resp.read())

    def alive(self) -> bool:
        v = self.pod
        if v is None or self._released:
            return False
        if v.gone or v.deleting or v.restarts != self._restarts0:
            # Died (deleted, evicted, or its container restarted): its place in the replica
            # count goes too, off the caller's thread (the gateway's event loop).
            self._released = True
            threading.Thread(target=self.scaler.release, args=(v, 0, True), daemon=True,
                             name=f"release-{self.replica_id}").start()
            return False
        return True

    def stop(self, grace_s: float = 5.0) -> None:
        if self._released or self.pod is None:
            return
        self._released = True
        self.scaler.release(self.pod, grace_s)

    def kill(self) -> None:
        """SIGKILL-like: the pod is deleted at once (grace 0); the ReplicaSet will replace it
        until the pool releases this replica."""
        if self.pod is not None and not self.pod.gone:
            self._killed = True
            self.scaler.provider.delete_pod(self.pod.name, 0)

    def rss_mb(self) -> float:
        from .container_replica import cgroup_memory_mb, memory_cgroup

        pid = self.pid if self.ready_ts is not None else None
        if pid:
            cg = memory_cgroup(pid)
            mb = cgroup_memory_mb(cg) if cg is not None else None
            if mb is not None:
                return mb
        return 0.0

    def exit_info(self) -> dict[str, Any]:
        v = self.pod
        if v is None:
            return {"exit_code": None, "exit_reason": "never had a pod"}
        if self._killed:
            words = "pod deleted (killed)"
        elif v.restarts != self._restarts0:
            words = f"container restarted by the kubelet ({v.reason or 'exit'})"
        elif v.gone or v.deleting:
            words = "pod deleted"
        else:
            words = "still running"
        return {"exit_code": None, "oom_killed": v.reason == "OOMKilled",
                "exit_reason": f"{words}; pod {v.name}"}

    def lifecycle(self) -> dict[str, Any]:
        v = self.pod
        rt = self.runtime
        out = {"host": self.host, "pod": v.name if v else None,
               "namespace": self.scaler.provider.namespace, "scaled_ts": self.scaled_ts,
               "probe_ready_ts": self.probe_ready_ts}
        if v is not None:
            out.update(pod_created_ts=v.created_ts, scheduled_ts=v.scheduled_ts,
                       # the kubelet posts the address with the container's start: this is
                       # when it said so, not when the sandbox was ready
                       address_seen_ts=v.ip_ts, container_running_ts=v.running_ts,
                       kubelet_ready_ts=v.ready_ts,
                       # the startup table's engine columns: scale → pod object; scheduled →
                       # the container's process
                       create_done_ts=v.created_ts, start_call_ts=v.scheduled_ts,
                       pod_conditions=dict(v.conditions), container_started_at=v.started_at)
        for key in ("process_start_ts", "runtime_up_ts", "init_done_ts", "import_ms",
                    "init_ms"):
            if rt.get(key) is not None:
                out[key] = rt[key]
        return out


def host_pid_of(pod_name: str) -> int | None:
    """The host pid of the function runtime in pod ``pod_name`` (same machine): the
    process running ``functions.runtime`` whose ``HOSTNAME`` (set by the kubelet) is the
    pod's name."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        if "functions.runtime" not in (proc.info["cmdline"] or []):
            continue
        try:
            if proc.environ().get("HOSTNAME") == pod_name:
                return proc.pid
        except psutil.Error:
            continue
    return None
