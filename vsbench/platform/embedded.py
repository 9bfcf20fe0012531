"""The embedded platform on one machine: an S3 server, the gateway and replicas (processes,
containers with ``host="container"``, or pods of a Kubernetes cluster with
``host="kubernetes"``: the gateway then plays faas-netes' part, and it and the S3 server
listen on the address pods reach, the pod bridge's, instead of loopback).

``EmbeddedPlatform`` runs the gateway on a private event loop in a thread of the calling
process: ``vsbench platform up`` runs it in a background daemon; ``vsbench process`` and the
tests run it in-process when no platform is up. Functions are deployed through the gateway's
own API, exactly as against OpenFaaS. It holds ``STATE_DIR/platform.lock`` while it runs
(:mod:`.lock`): container replicas stop when it is released, however the platform ended.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from functions.runtime.claimcheck import ClaimCheckStore

from ..errors import VsbError
from .admin import GatewayAdmin
from .auth import BasicAuth
from .events import PlatformLogs
from .gateway import Gateway
from .lock import PlatformLock
from .policy import ScalingPolicy
from .providers import HOSTS, ContainerProvider, ProcessProvider
from .s3server import S3Server
from .storage import StorageConfig


class EmbeddedPlatform:
    def __init__(self, state_dir: Path, storage: StorageConfig | None = None,
                 enforce_memory: bool = True, host: str = "process", engine: str = "podman",
                 cpus: float | None = None, kubeconfig: Path | None = None,
                 registry: str = ""):
        if host not in HOSTS:
            raise VsbError(f"unknown replica host {host!r}; choose one of {', '.join(HOSTS)}")
        self.state_dir = state_dir
        self.host = host
        self.engine = engine
        self.cpus = cpus  # container host: CPU quota per replica (--cpus); None = no quota
        self.kubeconfig = kubeconfig
        self.registry = registry
        self.bind = advertise_address(host, kubeconfig)
        self.lock = PlatformLock(state_dir)
        self.provider: ProcessProvider | ContainerProvider | None = None
        self.leftovers_removed = 0
        self.s3 = S3Server(state_dir, storage or StorageConfig(), host=self.bind)
        self.logs = PlatformLogs(state_dir / "events")
        self.auth_file = state_dir / "basic-auth"
        self.auth: BasicAuth | None = None
        self.gateway: Gateway | None = None
        self.enforce_memory = enforce_memory
        self.startup_s: float | None = None
        self._faults: ThreadPoolExecutor | None = None  # runs faults' courses (.faults)
        self._fault_lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "platform not started"
        return self.gateway.url

    @property
    def store(self) -> ClaimCheckStore:
        return ClaimCheckStore(self.s3.settings())

    def admin(self) -> GatewayAdmin:
        return GatewayAdmin(self.gateway_url, self.auth.as_tuple() if self.auth else None)

    def _provider(self, telemetry: Path):
        env = {**self.s3.settings().to_env(), "VSB_TELEMETRY_DIR": str(telemetry),
               "VSB_GATEWAY_AUTH_FILE": str(self.auth_file)}
        if self.host == "process":
            return ProcessProvider(self.state_dir / "replicas", env)
        if self.host == "kubernetes":
            from .kubernetes_provider import KubernetesProvider, default_kubeconfig

            provider = KubernetesProvider(self.kubeconfig or default_kubeconfig(), env,
                                          telemetry, self.state_dir, self.auth_file,
                                          registry=self.registry)
            self.leftovers_removed = provider.cleanup()
            return provider
        provider = ContainerProvider(self.state_dir / "replicas", env, self.state_dir,
                                     self.lock.path, telemetry, self.auth_file,
                                     engine=self.engine, cpus=self.cpus)
        # We hold the lock, so containers labelled with this folder are a dead platform's.
        self.leftovers_removed = provider.cleanup()
        return provider

    def start(self) -> EmbeddedPlatform:
        t0 = time.perf_counter()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.host == "container":
            from ..images.engine import find_engine

            find_engine(self.engine)  # one clear line, before anything starts
        self.lock.acquire()
        try:
            self.s3.start()
            self.auth = BasicAuth.resolve(self.auth_file)
            telemetry = self.state_dir / "telemetry"
            telemetry.mkdir(parents=True, exist_ok=True)
            self.provider = self._provider(telemetry)
            self.gateway = self._new_gateway().start_in_thread()
            self.provider.base_env["VSB_GATEWAY_URL"] = self.gateway.url
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def _new_gateway(self, port: int = 0) -> Gateway:
        gateway = Gateway(self.provider, self.logs, self.auth, host=self.bind, port=port,
                          enforce_memory=self.enforce_memory,
                          secrets_dir=self.state_dir / "secrets")
        gateway.fault_hooks = {"storage_outage": self._storage_outage,
                               "gateway_restart": self._gateway_restart}
        return gateway

    # --- faults (.faults: the gateway's POST /system/faults calls these) ------------------
    def _fault_thread(self, record: dict[str, Any], work) -> dict[str, Any]:
        """Run ``work`` (the fault's course) on the platform's fault workers; record the
        fault when it is over (``end_ts``, or ``error``) and return what is known now.
        The workers live as long as the platform: a server started from a thread that
        exits would get its parent-death signal (``PR_SET_PDEATHSIG`` is per thread)."""
        def run() -> None:
            try:
                record.update(work() or {})
            except Exception as exc:  # noqa: BLE001 - recorded: the run must go on
                record["error"] = f"{type(exc).__name__}: {exc}"
            record["end_ts"] = time.time()
            self.logs.faults.write(record)

        with self._fault_lock:
            if self._stopping.is_set():
                raise VsbError("the platform is stopping")
            if self._faults is None:
                self._faults = ThreadPoolExecutor(2, thread_name_prefix="fault")
            self._faults.submit(run)
        return dict(record)

    def _storage_outage(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.s3.kind == "external":
            raise VsbError("the object store is external: the platform cannot stop it")
        record = {"kind": "storage_outage", "ts": time.time(), **params}
        self.s3.stop()  # down before the answer: the caller's next request finds it down

        def outage() -> dict[str, Any]:
            if self._stopping.wait(params["duration_s"]):
                return {"cut_short": "platform stopped"}
            t0 = time.perf_counter()
            self.s3.restart()
            return {"restart_s": round(time.perf_counter() - t0, 3)}

        return self._fault_thread(record, outage)

    def _gateway_restart(self, params: dict[str, Any]) -> dict[str, Any]:
        old = self.gateway
        assert old is not None, "platform not started"
        record = {"kind": "gateway_restart", "ts": time.time(), **params}

        def restart() -> dict[str, Any]:
            time.sleep(0.2)  # the answer to the request that asked for this leaves first
            deployments, namespaces = list(old.deployments.values()), set(old.namespaces)
            stopped = sum(len(p.live()) for p in old.pools.values())
            old.stop_thread(reason="gateway_restart")  # its replicas stop and are recorded
            if self._stopping.wait(params["down_s"]):
                return {"cut_short": "platform stopped"}
            new = self._new_gateway(port=old.port).start_in_thread()
            new.call(new.restore, deployments, namespaces)
            self.gateway = new
            return {"replicas_stopped": stopped, "functions": len(deployments)}

        return self._fault_thread(record, restart)

    def default_image(self, function: str) -> str:
        """What a deploy names when the caller gives no image: a label for process replicas;
        on the container host nothing, so the provider runs the function's last built image."""
        return f"vsbench/{function}:local" if self.host == "process" else ""

    def deploy(self, policies: dict[str, ScalingPolicy], wait: bool = True,
               images: dict[str, str] | None = None) -> None:
        """(Re)deploy functions through the gateway API; wait for their min replicas."""
        admin = self.admin()
        for name, policy in policies.items():
            admin.deploy(name, policy, (images or {}).get(name, self.default_image(name)))
        if wait:
            admin.wait_available(list(policies))

    def describe(self) -> dict[str, Any]:
        out = {"gateway_url": self.gateway_url, "s3_url": self.s3.url,
               "s3_server": self.s3.kind, "s3_version": self.s3.version,
               "s3_credentials_file": str(self.s3.credentials_file),
               "basic_auth_file": str(self.auth_file),
               "state_dir": str(self.state_dir), "bucket": self.s3.bucket, "host": self.host}
        if self.host == "container":
            out.update(engine=self.engine, cpus=self.cpus)
        if self.host == "kubernetes":
            out.update(kubeconfig=str(self.provider.kubeconfig),
                       namespace=self.provider.namespace, registry=self.registry)
        return out

    def stop(self) -> None:
        with self._fault_lock:  # a fault under way ends now (a restart it began, first)
            self._stopping.set()
            if self._faults is not None:
                self._faults.shutdown(wait=True, cancel_futures=True)
        # The object store stops beside the replicas (each takes about a second), not after
        # them: nothing is left to store once the platform goes down.
        s3_stop = threading.Thread(target=self.s3.stop, name="s3-stop")
        try:
            s3_stop.start()
            if self.gateway is not None:
                self.gateway.stop_thread()
                self.gateway = None
            if self.provider is not None:
                self.provider.cleanup()  # anything the pools did not stop
                if hasattr(self.provider, "close"):
                    self.provider.close()
            self.logs.close()
        finally:
            s3_stop.join()
            self.lock.release()

    def __enter__(self) -> EmbeddedPlatform:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


ENV_ADVERTISE = "VSB_ADVERTISE_ADDRESS"


def advertise_address(host: str, kubeconfig: Path | None) -> str:
    """Where the gateway and the S3 server listen: loopback, except for pods, which reach
    the host at the local cluster's bridge address (or ``$VSB_ADVERTISE_ADDRESS``)."""
    import os

    if host != "kubernetes":
        return "127.0.0.1"
    if os.environ.get(ENV_ADVERTISE):
        return os.environ[ENV_ADVERTISE]
    from ..cluster.components import BRIDGE_IP
    from ..cluster.local import kubeconfig_path
    from .kubernetes_provider import default_kubeconfig

    kubeconfig = kubeconfig or default_kubeconfig()
    if Path(kubeconfig).resolve() == kubeconfig_path().resolve():
        return BRIDGE_IP
    raise VsbError(f"pods on the cluster of {kubeconfig} must reach this machine's gateway "
                   f"and object store: set {ENV_ADVERTISE} to an address of this machine "
                   f"they can reach")
