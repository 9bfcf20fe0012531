"""An S3 server on loopback: ``minio`` when it is on PATH, otherwise moto's server.

Either way clients reach it with boto3 exactly as they would a real MinIO.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from functions.runtime.claimcheck import ClaimCheckStore, StorageSettings

from ..errors import VsbError
from .ports import free_port, wait_http


@dataclass
class S3Server:
    """A running S3 server process (``start()``/``stop()``, or use as a context manager)."""

    log_dir: Path
    kind: str = "auto"  # auto | minio | moto
    bucket: str = "vsbench"
    host: str = "127.0.0.1"
    port: int = 0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def settings(self) -> StorageSettings:
        return StorageSettings(endpoint_url=self.url, bucket=self.bucket,
                               access_key="vsbench", secret_key="vsbench-secret")

    def _command(self, kind: str) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ)
        if kind == "minio":
            data = self.log_dir / "minio-data"
            data.mkdir(parents=True, exist_ok=True)
            env.update(MINIO_ROOT_USER="vsbench", MINIO_ROOT_PASSWORD="vsbench-secret")
            return ([shutil.which("minio") or "minio", "server", str(data), "--quiet",
                     "--address", f"{self.host}:{self.port}"], env)
        return ([sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)], env)

    def start(self, timeout_s: float = 30.0) -> S3Server:
        kind = self.kind
        if kind == "auto":
            kind = "minio" if shutil.which("minio") else "moto"
        self.kind = kind
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port(self.host)
        cmd, env = self._command(kind)
        log = open(self.log_dir / f"s3-{kind}.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        probe = f"{self.url}/minio/health/live" if kind == "minio" else f"{self.url}/"
        if not wait_http(probe, timeout_s, ok=(200, 403),
                         alive=lambda: self.proc.poll() is None):
            self.stop()
            raise VsbError(f"the {kind} S3 server did not start on {self.url} within "
                           f"{timeout_s:.0f} s; see {self.log_dir / f's3-{kind}.log'}")
        ClaimCheckStore(self.settings()).ensure_bucket()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
