"""The ``kubernetes`` replica host: each function a Deployment + Service on a cluster.

The gateway keeps the OpenFaaS API and the scaling policy; this provider plays faas-netes'
part (see :mod:`.kubernetes_replica` for how replicas map onto pods). Every object carries
the platform's label, so :meth:`KubernetesProvider.cleanup` removes this platform's (or a
dead one's) objects. The functions' environment (S3 endpoint and keys, the gateway URL)
travels in one Secret per function, never in the Deployment itself.

On the local cluster (``vsbench cluster up``), images are imported from the container
engine's store into containerd (``imagePullPolicy: Never``), and the telemetry folder and
the gateway's credentials are mounted from the host (hostPath), so the archive is the same
as on the other hosts. On another cluster, images come from ``--registry`` and pods must
reach the gateway and the object store at the addresses the platform advertises.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VsbError
from .kubernetes_replica import (
    LABEL_FUNCTION,
    LABEL_PLATFORM,
    PORT,
    FunctionScaler,
    KubernetesReplica,
)
from .policy import ScalingPolicy
from .scaling import ReplicaFactory

NAMESPACE = "vsbench-fn"
ENV_READY = "VSB_K8S_READY"  # probe | kubelet
GATEWAY_CLIENTS = frozenset({"orchestrator"})


def deployment_name(function: str) -> str:
    return f"vsb-{function}"


@dataclass
class KubernetesProvider:
    kubeconfig: Path
    base_env: dict[str, str]
    telemetry_dir: Path
    state_dir: Path
    auth_file: Path | None = None
    namespace: str = NAMESPACE
    # push/pull prefix on a real cluster; "" = import into the local one
    registry: str = field(default_factory=lambda: os.environ.get("VSB_REGISTRY", ""))
    # ready when the gateway's own probe answers (default), or only when the kubelet says
    probe: bool = field(default_factory=lambda: os.environ.get(ENV_READY, "probe") != "kubelet")
    start_timeout_s: float = 120.0
    local: bool = True
    platform_id: str = field(default="")
    scalers: dict[str, FunctionScaler] = field(default_factory=dict)

    name = "kubernetes"
    enforces_memory = True  # the kubelet does (resources.limits)

    def __post_init__(self) -> None:
        from ..cluster.local import api_client

        self.api, client = api_client(self.kubeconfig)
        self.client = client
        self.core, self.apps = client.CoreV1Api(self.api), client.AppsV1Api(self.api)
        if not self.platform_id:
            self.platform_id = hashlib.sha256(
                str(self.state_dir.resolve()).encode()).hexdigest()[:12]
        self._stop = threading.Event()
        self._watch_ready = threading.Event()
        self._ensure_namespace()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="k8s-pod-watch")
        self._thread.start()
        if not self._watch_ready.wait(30):
            raise VsbError(f"cannot watch pods in namespace {self.namespace} on "
                           f"{self.api.configuration.host}")

    # --- cluster objects ------------------------------------------------------------------
    def _ensure_namespace(self) -> None:
        from kubernetes.client.rest import ApiException

        try:
            self.core.read_namespace(self.namespace, _request_timeout=15)
        except ApiException as exc:
            if exc.status != 404:
                raise VsbError(f"Kubernetes API {self.api.configuration.host}: "
                               f"{exc.status} {exc.reason}") from None
            self.core.create_namespace({"metadata": {"name": self.namespace}},
                                       _request_timeout=15)
        except Exception as exc:  # noqa: BLE001 - unreachable cluster: one line
            raise VsbError(f"cannot reach the Kubernetes API at {self.api.configuration.host} "
                           f"({type(exc).__name__}); is the cluster up? "
                           f"(`vsbench cluster status`)") from None

    namespaces = False  # functions all live in one cluster namespace (self.namespace)

    def labels(self, function: str) -> dict[str, str]:
        return {LABEL_FUNCTION: function, LABEL_PLATFORM: self.platform_id,
                "app.kubernetes.io/managed-by": "vsbench"}

    def _apply(self, read, create, replace, name: str, body: dict) -> None:
        from kubernetes.client.rest import ApiException

        try:
            read(name, self.namespace, _request_timeout=15)
        except ApiException as exc:
            if exc.status != 404:
                raise
            create(self.namespace, body, _request_timeout=15)
            return
        replace(name, self.namespace, body, _request_timeout=15)

    def deployment_body(self, function: str, image: str, memory_mb: int, replicas: int,
                        secret: str, watchdog: bool = False) -> dict:
        """``watchdog``: an image not built by vsbench, run as OpenFaaS runs it (its own
        entrypoint listening on ``$port``, ready when ``/_/health`` answers)."""
        name = deployment_name(function)
        labels = self.labels(function)
        volumes, mounts = [], []
        if self.local and not watchdog:
            volumes.append({"name": "telemetry", "hostPath": {
                "path": str(self.telemetry_dir), "type": "Directory"}})
            mounts.append({"name": "telemetry", "mountPath": str(self.telemetry_dir)})
            if self.auth_file is not None and function in GATEWAY_CLIENTS:
                volumes.append({"name": "gateway-auth", "hostPath": {
                    "path": str(self.auth_file), "type": "File"}})
                mounts.append({"name": "gateway-auth", "mountPath": str(self.auth_file),
                               "readOnly": True})
        container = {
            "name": "function", "image": image,
            "imagePullPolicy": "Never" if not self.registry else "IfNotPresent",
            "args": ["--function", function, "--host", "0.0.0.0", "--port", str(PORT)],
            "ports": [{"containerPort": PORT, "name": "http"}],
            "envFrom": [{"secretRef": {"name": secret}}],
            "env": [{"name": "VSB_REPLICA_ID",
                     "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"memory": f"{memory_mb}Mi"},
                          "requests": {"memory": f"{memory_mb}Mi"}},
            "readinessProbe": {"httpGet": {"path": probe_path(watchdog), "port": PORT},
                               "periodSeconds": 1, "failureThreshold": 1,
                               "successThreshold": 1, "timeoutSeconds": 1},
            "volumeMounts": mounts,
        }
        if watchdog:
            del container["args"]
            container["env"].append({"name": "port", "value": str(PORT)})
        return {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {LABEL_FUNCTION: function,
                                                  LABEL_PLATFORM: self.platform_id}},
                     "strategy": {"type": "Recreate"},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [container], "volumes": volumes,
                                           "automountServiceAccountToken": False,
                                           "enableServiceLinks": False,
                                           "terminationGracePeriodSeconds": 5}}},
        }

    def ensure_function(self, function: str, env: dict[str, str], image: str,
                        memory_mb: int, watchdog: bool = False) -> FunctionScaler:
        name = deployment_name(function)
        secret = f"{name}-env"
        self._apply(self.core.read_namespaced_secret, self.core.create_namespaced_secret,
                    self.core.replace_namespaced_secret, secret,
                    {"metadata": {"name": secret, "labels": self.labels(function)},
                     "type": "Opaque", "stringData": env})
        scaler = self.scalers.get(function)
        replicas = scaler.members if scaler else 0
        self._apply(self.apps.read_namespaced_deployment,
                    self.apps.create_namespaced_deployment,
                    self.apps.replace_namespaced_deployment, name,
                    self.deployment_body(function, image, memory_mb, replicas, secret,
                                         watchdog))
        self._apply(self.core.read_namespaced_service, self.core.create_namespaced_service,
                    self.core.replace_namespaced_service, name,
                    {"metadata": {"name": name, "labels": self.labels(function)},
                     "spec": {"selector": {LABEL_FUNCTION: function,
                                           LABEL_PLATFORM: self.platform_id},
                              "ports": [{"port": PORT, "targetPort": PORT, "name": "http"}]}})
        if scaler is None:
            scaler = self.scalers[function] = FunctionScaler(self, function, name)
        return scaler

    def image(self, function: str, requested: str = "") -> str:
        from .providers import resolve_image

        image = resolve_image(function, requested)
        if self.registry:
            return push_image(image, self.registry)
        if self.local:
            from ..cluster.local import import_image

            import_image(image)
        return image

    def factory(self, function: str, env: dict[str, str], image: str = "",
                policy: ScalingPolicy | None = None, secrets: list[tuple[Path, str]] = (),
                read_only: bool = False) -> ReplicaFactory:
        """Imports the image (local cluster) and applies the function's objects now, so a
        deployed function exists on the cluster with zero pods before its first call."""
        from ..images.engine import is_vsbench_image

        if secrets:
            raise VsbError("the Kubernetes host does not mount OpenFaaS secrets yet; deploy "
                           "without 'secrets' (or use the container host)")
        watchdog = bool(image) and not is_vsbench_image(image)
        merged = {**self.base_env, **env}
        if function not in GATEWAY_CLIENTS:
            merged.pop("VSB_GATEWAY_AUTH_FILE", None)
        if watchdog:
            merged = dict(env)
        ref = self.image(function, image)
        made: dict[int, FunctionScaler] = {}
        if policy is not None:
            made[policy.memory_mb] = self.ensure_function(function, merged, ref,
                                                          policy.memory_mb, watchdog)

        def make(replica_id: str, policy: ScalingPolicy) -> KubernetesReplica:
            scaler = made.get(policy.memory_mb)
            if scaler is None:
                scaler = made[policy.memory_mb] = self.ensure_function(
                    function, merged, ref, policy.memory_mb, watchdog)
            return KubernetesReplica(function, replica_id, scaler, policy.memory_mb,
                                     probe=self.probe, probe_path=probe_path(watchdog))

        return make

    def pod_logs(self, replicas: list, instance: str | None, tail: int,
                 since: float | None) -> list[tuple[str, str, str]]:
        """(pod, RFC 3339 time, line) of the replicas' pods, from the kubelet through the API
        (a pod's log goes with the pod)."""
        out = []
        for rep in replicas:
            pod = getattr(getattr(rep, "pod", None), "name", None)
            if pod is None or (instance and pod != instance):
                continue
            try:
                text = self.core.read_namespaced_pod_log(
                    pod, self.namespace, container="function", timestamps=True,
                    tail_lines=tail if tail > 0 else None,
                    since_seconds=max(1, int(time.time() - since)) if since else None,
                    _request_timeout=15)
            except Exception:  # noqa: BLE001 - not started yet, or already gone
                continue
            for line in (text or "").splitlines():
                ts, _, rest = line.partition(" ")
                out.append((pod, ts, rest))
        out.sort(key=lambda e: e[1])
        return out[-tail:] if tail > 0 else out

    def delete_pod(self, name: str, grace_s: int) -> bool:
        """Delete a pod; True when the API took it or the pod is already gone."""
        try:
            self.core.delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace_s,
                                            _request_timeout=15)
        except Exception as exc:  # noqa: BLE001 - gone (404), or the API did not answer
            if getattr(exc, "status", None) == 404:
                return True
            print(f"deleting pod {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr,
                  flush=True)
            return False
        return True

    # --- the watch ------------------------------------------------------------------------
    def _watch(self) -> None:
        from kubernetes import watch

        selector = f"{LABEL_PLATFORM}={self.platform_id}"
        while not self._stop.is_set():
            try:
                listed = self.core.list_namespaced_pod(self.namespace, label_selector=selector,
                                                       _request_timeout=30)
                now = time.time()
                for pod in listed.items:
                    self._observe("ADDED", pod, now)
                self._watch_ready.set()
                w = watch.Watch()
                for ev in w.stream(self.core.list_namespaced_pod, self.namespace,
                                   label_selector=selector,
                                   resource_version=listed.metadata.resource_version,
                                   timeout_seconds=300, _request_timeout=330):
                    self._observe(ev["type"], ev["object"], time.time())
                    if self._stop.is_set():
                        w.stop()
                        break
            except Exception:  # noqa: BLE001 - expired or dropped: list and watch again
                if self._stop.wait(0.5):
                    return

    def _observe(self, kind: str, pod, now: float) -> None:
        fn = (pod.metadata.labels or {}).get(LABEL_FUNCTION)
        scaler = self.scalers.get(fn)
        if scaler is not None:
            scaler.observe(kind, pod, now)

    # --- ending ---------------------------------------------------------------------------
    def cleanup(self) -> int:
        """Delete this platform's Deployments, Services and Secrets; how many Deployments."""
        selector = f"{LABEL_PLATFORM}={self.platform_id}"
        ns = self.namespace
        try:
            deps = self.apps.list_namespaced_deployment(ns, label_selector=selector,
                                                        _request_timeout=15).items
            for d in deps:
                self.apps.delete_namespaced_deployment(d.metadata.name, ns,
                                                       grace_period_seconds=0,
                                                       propagation_policy="Foreground",
                                                       _request_timeout=15)
            for s in self.core.list_namespaced_service(ns, label_selector=selector,
                                                       _request_timeout=15).items:
                self.core.delete_namespaced_service(s.metadata.name, ns, _request_timeout=15)
            self.core.delete_collection_namespaced_secret(ns, label_selector=selector,
                                                          _request_timeout=15)
            self.core.delete_collection_namespaced_pod(ns, label_selector=selector,
                                                       grace_period_seconds=0,
                                                       _request_timeout=15)
        except Exception:  # noqa: BLE001 - cluster gone: nothing left to delete there
            return 0
        return len(deps)

    def close(self) -> None:
        self.cleanup()
        self._stop.set()


def push_image(image: str, registry: str, engine: str = "podman") -> str:
    """Tag ``image`` under ``registry`` and push it there; the reference pods pull."""
    import subprocess

    from ..images.engine import find_engine

    exe = find_engine(engine).exe
    target = f"{registry.rstrip('/')}/{image.split('/', 1)[-1]}"
    for cmd in ([exe, "tag", image, target], [exe, "push", target]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise VsbError(f"`{' '.join(cmd[1:])}` failed: {proc.stderr.strip()[-200:]}")
    return target


def default_kubeconfig() -> Path:
    """``$KUBECONFIG``, else the local cluster's (``vsbench cluster up``)."""
    if os.environ.get("KUBECONFIG"):
        return Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
    from ..cluster.local import kubeconfig_path

    return kubeconfig_path()


def probe_path(watchdog: bool) -> str:
    """vsbench's runtime is ready on ``/_/ready`` (after init); of-watchdog on ``/_/health``."""
    return "/_/health" if watchdog else "/_/ready"
