"""Replica providers: where a function's replicas run, behind one interface (a factory that
makes an unstarted replica from an id and the function's current policy).

``process``: a ``python -m functions.runtime`` process on a loopback port. ``container``: a
container of the function's image (podman or docker) on the host's network, bound to
loopback, under the policy's memory limit.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import VsbError
from .container_replica import (
    LABEL_FUNCTION,
    LABEL_PLATFORM,
    ContainerReplica,
    ContainerSpec,
    labelled_containers,
    remove_containers,
)
from .policy import ScalingPolicy
from .process_replica import ProcessReplica
from .scaling import ReplicaFactory

HOSTS = ("process", "container", "kubernetes")  # where replicas run; the first is the default
DEFAULT_HOST = HOSTS[0]


def add_host_arguments(parser, when: str = "") -> None:
    """``--host``, ``--engine`` and ``--cpus``, as the CLI and the daemon take them."""
    from ..images.engine import ENGINES

    parser.add_argument("--host", default=DEFAULT_HOST, choices=list(HOSTS),
                        help=f"{when}replicas as processes, or as containers of the function "
                             f"images")
    parser.add_argument("--engine", default=ENGINES[0], choices=list(ENGINES),
                        help=f"{when}the container engine (--host container)")
    parser.add_argument("--cpus", type=float, default=None,
                        help=f"{when}CPU quota per container replica (default: none)")
    parser.add_argument("--kubeconfig", default=None,
                        help=f"{when}the cluster (--host kubernetes; default: $KUBECONFIG, "
                             f"else the local cluster of `vsbench cluster up`)")
    parser.add_argument("--registry", default=None,
                        help=f"{when}push images here and pods pull them (--host kubernetes on "
                             f"a real cluster; default: import into the local cluster)")


ENV_REGISTRY = "VSB_REGISTRY"


def apply_host_env(args) -> None:
    """``--kubeconfig``/``--registry`` travel as ``KUBECONFIG``/``$VSB_REGISTRY`` to the
    platform daemon (one definition, read by the Kubernetes provider)."""
    if getattr(args, "kubeconfig", None):
        os.environ["KUBECONFIG"] = str(Path(args.kubeconfig).resolve())
    if getattr(args, "registry", None):
        os.environ[ENV_REGISTRY] = args.registry
# Functions that call the gateway themselves and so get its credentials file.
GATEWAY_CLIENTS = frozenset({"orchestrator"})
ENV_IMAGE = "VSB_CONTAINER_IMAGE"
# More `create` options, for experiments on the engine's share of a cold start, e.g.
# "--security-opt seccomp=unconfined" or "--runtime crun".
ENV_CREATE_ARGS = "VSB_CONTAINER_CREATE_ARGS"


@dataclass
class ProcessProvider:
    """Each replica a ``python -m functions.runtime`` process on a loopback port."""

    log_dir: Path
    base_env: dict[str, str]

    name = "process"
    enforces_memory = False  # the pool's RSS watchdog does
    namespaces = True  # any namespace: it is part of the function's key, nothing more
    starters = ("spawn", "fork-server", "prewarm")

    def factory(self, function: str, env: dict[str, str], image: str = "",
                policy: ScalingPolicy | None = None, secrets: list[tuple[Path, str]] = (),
                read_only: bool = False) -> ReplicaFactory:
        """``image`` names the build (vsbench/<fn>:<fingerprint>); processes run this tree:
        the function runtime (``python -m functions.runtime``) serving ``function``. With
        the ``fork-server`` starter, a template is started now (off the request path) and
        replicas are forked from it; the factory's ``close()`` stops it, ``template`` is it."""
        # Work folders inside the platform's own folder: a replica killed mid-call (a fault,
        # an OOM kill) cannot remove its own, and the platform's removal then takes them.
        tmp = self.log_dir.parent / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        merged = {**self.base_env, "TMPDIR": str(tmp), **env}
        if policy is not None and policy.starter == "fork-server":
            from .fork_server import ForkedReplica, ForkServer

            server = ForkServer(function, merged, self.log_dir / "templates").start()

            def fork(replica_id: str, policy: ScalingPolicy) -> ForkedReplica:
                rep = ForkedReplica(function, replica_id, merged, self.log_dir)
                rep.server = server
                return rep

            fork.close = lambda reason="stopped": server.stop(reason=reason)
            fork.records = server.replica_records  # billed by the pool (.scaling)
            fork.template = server
            return fork

        def make(replica_id: str, policy: ScalingPolicy) -> ProcessReplica:
            return ProcessReplica(function, replica_id, merged, self.log_dir)

        return make

    def cleanup(self) -> int:
        return 0  # process replicas exit with their parent (VSB_PARENT_PID)


def resolve_image(function: str, requested: str = "") -> str:
    """The image a function's containers run: ``$VSB_CONTAINER_IMAGE`` (one image for every
    function: development), else the deployment's image, else the function's last build."""
    if os.environ.get(ENV_IMAGE):
        return os.environ[ENV_IMAGE]
    if requested:
        return requested
    from ..images import image_for

    return image_for(function)


@dataclass
class ContainerProvider:
    """Each replica a container of the function's image; see :mod:`.container_replica`.

    ``state_dir`` labels every container (``vsbench.platform``), so :meth:`cleanup` finds
    them all, this platform's or a dead one's on the same folder. ``lock_path`` is the
    platform's lock, mounted read-only so replicas stop when the platform is gone.
    """

    log_dir: Path
    base_env: dict[str, str]
    state_dir: Path
    lock_path: Path | None
    telemetry_dir: Path
    auth_file: Path | None = None
    engine: str = "podman"
    cpus: float | None = None
    suffix: str = field(default="")

    name = "container"
    starters = ("spawn", "prewarm")
    enforces_memory = True  # the kernel does (--memory)
    namespaces = True

    def __post_init__(self) -> None:
        from ..images.engine import find_engine

        self._engine = find_engine(self.engine)  # one clear line when it is not installed
        self.exe = self._engine.exe
        if not self.suffix:  # short and unique to this platform: container names never clash
            seed = f"{self.state_dir.resolve()}:{os.getpid()}:{time.time_ns()}"
            self.suffix = hashlib.sha256(seed.encode()).hexdigest()[:6]

    @property
    def platform_label(self) -> str:
        return str(self.state_dir.resolve())

    def image(self, function: str, requested: str = "") -> tuple[str, bool]:
        """The function's image and whether it speaks of-watchdog's contract (any image not
        built by vsbench). A missing vsbench image is an error naming the build command; any
        other missing image is not: as on Kubernetes, the deployment stands and its replicas
        fail to start, saying so (nothing is pulled)."""
        from ..images.engine import is_vsbench_image

        try:
            image = resolve_image(function, requested)
        except VsbError:  # no image named, none built: the start says so
            return requested, True
        try:
            labels = (self._engine.inspect_image(image).get("Config") or {}).get("Labels")
        except VsbError:
            if is_vsbench_image(image):  # ours, and we know how to make it
                raise VsbError(f"no image for {function} ({image} is not in {self.engine}'s "
                               f"local store): run `vsbench build --images {function}`"
                               ) from None
            return image, True
        return image, not (labels or {}).get(LABEL_FUNCTION)

    def factory(self, function: str, env: dict[str, str], image: str = "",
                policy: ScalingPolicy | None = None, secrets: list[tuple[Path, str]] = (),
                read_only: bool = False) -> ReplicaFactory:
        merged = {**self.base_env, **env}
        image, watchdog = self.image(function, image)
        mounts: list[tuple[Path, str]] = [] if watchdog else [(self.telemetry_dir, "rw")]
        if self.auth_file is not None and function in GATEWAY_CLIENTS and not watchdog:
            mounts.append((self.auth_file, "ro"))
        else:
            merged.pop("VSB_GATEWAY_AUTH_FILE", None)
        if watchdog:  # a foreign image gets the function's own settings, not vsbench's
            merged = {k: v for k, v in merged.items() if k in env}
        spec = ContainerSpec(self.engine, self.exe, image, self.platform_label,
                             self.suffix, self.lock_path, mounts, self.cpus,
                             shlex.split(os.environ.get(ENV_CREATE_ARGS, "")),
                             watchdog=watchdog, secrets=list(secrets), read_only=read_only)

        def make(replica_id: str, policy: ScalingPolicy) -> ContainerReplica:
            return ContainerReplica(function, replica_id, merged, self.log_dir, spec,
                                    policy.memory_mb)

        return make

    def cleanup(self) -> int:
        """Remove every container labelled with this platform's folder; how many there were."""
        ids = labelled_containers(self.exe, LABEL_PLATFORM, self.platform_label)
        remove_containers(self.engine, self.exe, ids)
        return len(ids)

