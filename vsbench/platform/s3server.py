"""The platform's S3 server: SeaweedFS (default) or MinIO started on loopback, or an external one.

Which one comes from :class:`~.storage.StorageConfig`. A started server gets a fresh data
folder and credentials of its own (random unless ``credentials_file`` gives them) under
``STATE_DIR/s3/``; clients read them from ``STATE_DIR/s3/credentials.yaml`` (mode 600).
The server is ready when a real put and get of a small object succeed with those
credentials, not when a port opens. ``describe()`` names the server and its version for
``state.json`` and the run's provenance.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from functions.runtime.claimcheck import StorageSettings

from ..errors import VsbError
from . import seaweedfs
from .ports import free_port
from .storage import S3Credentials, StorageConfig

PROBE_KEY = "vsbench-ready-probe"


def minio_binary() -> Path:
    path = shutil.which("minio")
    if not path:
        raise VsbError("storage server minio needs a `minio` binary on PATH, which is "
                       "missing: install MinIO's server binary and put it on PATH, or use "
                       "storage: {server: seaweedfs} (the default, installed with vsbench)")
    return Path(path)


def probe_client(settings: StorageSettings, timeout_s: float = 5.0):
    """A boto3 client that fails fast (no retries): for readiness polling."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=settings.endpoint_url, aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key, region_name=settings.region,
        config=Config(retries={"max_attempts": 1}, connect_timeout=min(1.0, timeout_s),
                      read_timeout=timeout_s, s3={"addressing_style": "path"}))


def put_get_once(client, bucket: str) -> dict[str, str]:
    """Create ``bucket`` if needed, put and get a small object; the get's HTTP headers."""
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
            raise
        client.create_bucket(Bucket=bucket)
    body = os.urandom(16)
    client.put_object(Bucket=bucket, Key=PROBE_KEY, Body=body)
    got = client.get_object(Bucket=bucket, Key=PROBE_KEY)
    if got["Body"].read() != body:
        raise VsbError(f"{bucket}/{PROBE_KEY}: read back different bytes than written")
    return got["ResponseMetadata"].get("HTTPHeaders", {})


def wait_put_get(settings: StorageSettings, timeout_s: float, alive=lambda: True,
                 retry_denied: bool = True) -> tuple[dict[str, str] | None, str]:
    """Retry :func:`put_get_once` until it succeeds, ``alive()`` fails or time runs out
    (or, unless ``retry_denied``, the server refuses the keys with a 403).
    Returns (the get's headers or None, the last error)."""
    client = probe_client(settings)
    deadline = time.monotonic() + timeout_s
    last = "no attempt"
    while time.monotonic() < deadline and alive():
        try:
            return put_get_once(client, settings.bucket), ""
        except Exception as exc:  # any failure means "not ready yet"
            status, last = _describe_error(exc)
            if status == 403 and not retry_denied:
                break
        time.sleep(0.02)
    return None, last


def _describe_error(exc: Exception) -> tuple[int | None, str]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code")
        return status, f"HTTP {status} {code}"
    return None, f"{type(exc).__name__}: {exc}"


def _die_with_parent():
    """A preexec function: the server gets SIGTERM when the process that started it dies
    (Linux ``PR_SET_PDEATHSIG``), so a killed platform leaves no S3 server behind. libc is
    resolved here, in the parent; the child only makes the system call."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: stop() is then the only way out
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


@dataclass
class S3Server:
    """The platform's S3 server (``start()``/``stop()``, or use as a context manager)."""

    state_dir: Path
    config: StorageConfig = field(default_factory=StorageConfig)
    bucket: str = "vsbench"
    host: str = "127.0.0.1"
    port: int = 0
    version: str | None = None
    startup_s: float | None = None  # process spawned -> first put and get succeeded
    credentials: S3Credentials | None = field(default=None, repr=False)
    proc: subprocess.Popen | None = field(default=None, repr=False)
    _ports: seaweedfs.SeaweedPorts | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.config.server

    @property
    def url(self) -> str:
        if self.kind == "external":
            return str(self.config.endpoint).rstrip("/")
        return f"http://{self.host}:{self.port}"

    @property
    def credentials_file(self) -> Path:
        if self.kind == "external":
            return Path(str(self.config.credentials_file))
        return self.state_dir / "s3" / "credentials.yaml"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "logs" / f"s3-{self.kind}.log"

    def settings(self) -> StorageSettings:
        assert self.credentials is not None, "S3 server not started"
        return StorageSettings(endpoint_url=self.url, bucket=self.bucket,
                               access_key=self.credentials.access_key,
                               secret_key=self.credentials.secret_key)

    def describe(self) -> dict[str, Any]:
        return {"server": self.kind, "version": self.version, "endpoint": self.url}

    def start(self, timeout_s: float = 30.0) -> S3Server:
        self.config.check()
        if self.config.credentials_file:
            self.credentials = S3Credentials.load(Path(self.config.credentials_file))
        if self.kind == "external":
            return self._use_external(timeout_s)
        self.credentials = self.credentials or S3Credentials.generate()
        root = self.state_dir / "s3"
        data = root / "data"
        shutil.rmtree(data, ignore_errors=True)  # every platform starts from an empty store
        data.mkdir(parents=True)
        self.credentials.write(root / "credentials.yaml")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        self._launch(root, data, timeout_s)
        return self

    def restart(self, timeout_s: float = 60.0) -> S3Server:
        """Start the stopped server again on the same address with the same credentials and
        data (an outage's end: what was stored before it is still there)."""
        if self.kind == "external":
            raise VsbError("the object store is external: the platform cannot stop or "
                           "restart it (storage_outage needs server: seaweedfs or minio)")
        ports = self._ports  # the same internal ports too: weed's volumes keep their address
        self.stop()
        root = self.state_dir / "s3"
        self._launch(root, root / "data", timeout_s, ports)
        return self

    def _launch(self, root: Path, data: Path, timeout_s: float,
                ports: seaweedfs.SeaweedPorts | None = None) -> None:
        if self.kind == "seaweedfs":
            self._start_seaweedfs(root, data, timeout_s, ports)
        else:
            self._start_minio(data, timeout_s)

    def _spawn(self, cmd: list[str], env: dict[str, str], cwd: Path) -> float:
        log = open(self.log_file, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=_die_with_parent())
        log.close()
        return t0

    def _wait_ready(self, t0: float, timeout_s: float) -> dict[str, str]:
        headers, last = wait_put_get(self.settings(), timeout_s,
                                     alive=lambda: self.proc is not None
                                     and self.proc.poll() is None)
        if headers is None:
            exited = self.proc is not None and self.proc.poll() is not None
            self.stop()
            why = "exited" if exited else f"did not accept a put and get within {timeout_s:.0f} s"
            raise VsbError(f"the {self.kind} S3 server on {self.url} {why} (last error: "
                           f"{last}); see {self.log_file}")
        self.startup_s = time.perf_counter() - t0
        return headers

    def _start_seaweedfs(self, root: Path, data: Path, timeout_s: float,
                         ports: seaweedfs.SeaweedPorts | None = None) -> None:
        binary = seaweedfs.weed_binary()
        ports = ports or seaweedfs.SeaweedPorts.allocate(self.host, self.port)
        s3_config = seaweedfs.write_identities(root / "identities.json", self.credentials)
        # cwd: weed reads master.toml and friends from ".", so run it where there are none.
        t0 = self._spawn(seaweedfs.mini_command(binary, data, s3_config, ports, self.host),
                         seaweedfs.mini_env(), cwd=root)
        self._ports = ports
        ready = threading.Event()
        with ThreadPoolExecutor(2) as pool:  # both overlap weed's own start
            version = pool.submit(seaweedfs.weed_version, binary)
            pool.submit(seaweedfs.grow_first_volume, self.host, ports.master, self.bucket,
                        time.monotonic() + timeout_s, ready.is_set)
            try:
                self._wait_ready(t0, timeout_s)
            finally:
                ready.set()
            self.version = version.result()

    def _start_minio(self, data: Path, timeout_s: float) -> None:
        binary = minio_binary()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "AWS_"))}
        env.update(MINIO_ROOT_USER=self.credentials.access_key,
                   MINIO_ROOT_PASSWORD=self.credentials.secret_key,
                   MINIO_BROWSER="off")
        cmd = [str(binary), "server", str(data), "--quiet",
               "--address", f"{self.host}:{self.port}",
               "--console-address", f"{self.host}:{free_port(self.host)}"]
        t0 = self._spawn(cmd, env, cwd=data.parent)
        self._wait_ready(t0, timeout_s)
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=30).stdout.strip().splitlines()
        self.version = out[0].removeprefix("minio version ").strip() if out else "unknown"

    def _use_external(self, timeout_s: float) -> S3Server:
        t0 = time.perf_counter()
        headers, last = wait_put_get(self.settings(), min(timeout_s, 10.0),
                                     retry_denied=False)
        if headers is None:
            raise VsbError(f"storage endpoint {self.url} did not accept a put and get of "
                           f"bucket {self.bucket} with the keys in {self.credentials_file} "
                           f"(last error: {last}); check the endpoint, the keys and that "
                           "they may create the bucket")
        self.startup_s = time.perf_counter() - t0
        self.version = headers.get("server") or "unknown"
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the server and everything it started (its process group)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                    self.proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
                except ProcessLookupError:
                    pass
            self.proc = None
        if self._ports is not None:  # weed leaves its unix sockets in /tmp
            for sock in self._ports.socket_files():
                sock.unlink(missing_ok=True)
            self._ports = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
