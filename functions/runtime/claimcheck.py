"""Claim-check helpers: artifacts go to S3 (MinIO or moto), envelopes carry their URIs.

Keys are deterministic (``requests/{request_id}/{stage}/{name}``), so a retried stage
overwrites its own outputs instead of leaving duplicates: retries are idempotent.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BadInput, StageError, StorageUnavailable


def _storage_error(exc: Exception, what: str) -> Exception:
    """What a failed transfer means for the caller: the store down or failing (retryable,
    :class:`StorageUnavailable`), or the object not there / not allowed (:class:`BadInput`)."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status < 500:
            return BadInput(f"cannot {what}: {exc}")
    return StorageUnavailable(f"object store unavailable ({what}): {type(exc).__name__}: "
                              f"{exc}")


def _transfer_errors() -> tuple[type[Exception], ...]:
    """Exceptions of a transfer that did not go through (botocore's and s3transfer's)."""
    from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, S3UploadFailedError, S3TransferFailedError)


@dataclass
class StorageSettings:
    """Where the object store is. Each field can be set through its environment variable."""

    endpoint_url: str  # VSB_S3_ENDPOINT, e.g. http://127.0.0.1:9000
    bucket: str = "vsbench"  # VSB_S3_BUCKET
    access_key: str = "vsbench"  # AWS_ACCESS_KEY_ID
    secret_key: str = "vsbench-secret"  # AWS_SECRET_ACCESS_KEY
    region: str = "us-east-1"  # AWS_DEFAULT_REGION

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StorageSettings:
        env = dict(os.environ if env is None else env)
        endpoint = env.get("VSB_S3_ENDPOINT")
        if not endpoint:
            raise StageError("VSB_S3_ENDPOINT is not set: the runtime needs an S3 endpoint URL")
        # Keys may come as files (OpenFaaS mounts secrets under /var/openfaas/secrets/):
        # VSB_S3_SECRETS_DIR/access_key and /secret_key, where the variables are unset.
        folder = env.get("VSB_S3_SECRETS_DIR")
        for var, name in (("AWS_ACCESS_KEY_ID", "access_key"),
                          ("AWS_SECRET_ACCESS_KEY", "secret_key")):
            if folder and var not in env:
                try:
                    env[var] = (Path(folder) / name).read_text().strip()
                except OSError:
                    raise StageError(f"VSB_S3_SECRETS_DIR={folder} has no readable {name} "
                                     f"file: mount the object store's Secret there") from None
        return cls(
            endpoint_url=endpoint,
            bucket=env.get("VSB_S3_BUCKET", cls.bucket),
            access_key=env.get("AWS_ACCESS_KEY_ID", cls.access_key),
            secret_key=env.get("AWS_SECRET_ACCESS_KEY", cls.secret_key),
            region=env.get("AWS_DEFAULT_REGION", cls.region),
        )

    def to_env(self) -> dict[str, str]:
        return {
            "VSB_S3_ENDPOINT": self.endpoint_url,
            "VSB_S3_BUCKET": self.bucket,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


def parse_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key)."""
    if not isinstance(uri, str) or not uri.startswith("s3://") or "/" not in uri[5:]:
        raise BadInput(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise BadInput(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
    return bucket, key


def artifact_key(request_id: str, stage: str, name: str) -> str:
    """The deterministic key of one stage output."""
    return f"requests/{request_id}/{stage}/{name}"


UPLOAD_PREFIXES = ("uploads/", "inputs/")  # where clients put what requests read


def check_input_key(uri: str, bucket: str, request_id: str) -> tuple[str, str]:
    """(bucket, key) of an input a stage of ``request_id`` may read: in its platform's
    bucket, with no empty, ``.`` or ``..`` segment, under its own request's objects
    (``requests/{request_id}/``) or the upload prefixes. Anything else is a
    :class:`BadInput` saying which rule it broke."""
    got, key = parse_uri(uri)
    if got != bucket:
        raise BadInput(f"input {uri} is in bucket {got!r}; stages read only from their "
                       f"platform's bucket {bucket!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadInput(f"input {uri}: key {key!r} has an empty, '.' or '..' segment "
                       "(it would leave the request's prefix)")
    own = f"requests/{request_id}/"
    if key.startswith("requests/") and not key.startswith(own):
        raise BadInput(f"input {uri} belongs to another request; a stage reads only its "
                       f"own request's objects ({own}) and uploads")
    if not key.startswith((own, *UPLOAD_PREFIXES)):
        raise BadInput(f"input {uri} is outside this request's objects ({own}) and the "
                       f"upload prefixes ({', '.join(UPLOAD_PREFIXES)})")
    return got, key


@dataclass
class StorageStats:
    """Storage time and bytes spent by one invocation."""

    get_ms: float = 0.0
    put_ms: float = 0.0
    get_bytes: int = 0
    put_bytes: int = 0
    gets: int = 0
    puts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "storage_get_ms": round(self.get_ms, 3),
            "storage_put_ms": round(self.put_ms, 3),
            "bytes_in": self.get_bytes,
            "bytes_out": self.put_bytes,
            "storage_gets": self.gets,
            "storage_puts": self.puts,
        }


class ClaimCheckStore:
    """A thread-safe S3 client (boto3 clients are) that times every transfer."""

    def __init__(self, settings: StorageSettings):
        import boto3
        from botocore.config import Config

        self.settings = settings
        self.bucket = settings.bucket
        self._client = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            region_name=settings.region,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"},
                max_pool_connections=32,
                s3={"addressing_style": "path"},
            ),
        )
        self._lock = threading.Lock()

    @property
    def client(self):
        return self._client

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (idempotent)."""
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self.bucket)

    def get_file(self, uri: str, dest: Path, stats: StorageStats | None = None) -> Path:
        """Download ``uri`` to ``dest``; a missing object is a :class:`BadInput`, a store that
        does not answer :class:`StorageUnavailable`."""
        bucket, key = parse_uri(uri)
        t0 = time.perf_counter()
        try:
            self._client.download_file(bucket, key, str(dest))
        except _transfer_errors() as exc:
            raise _storage_error(exc, f"read {uri}") from exc
        if stats is not None:
            stats.get_ms += (time.perf_counter() - t0) * 1000
            stats.get_bytes += dest.stat().st_size
            stats.gets += 1
        return dest

    def put_file(self, src: Path, key: str, stats: StorageStats | None = None) -> str:
        t0 = time.perf_counter()
        try:
            self._client.upload_file(str(src), self.bucket, key)
        except _transfer_errors() as exc:
            raise _storage_error(exc, f"write {self.uri(key)}") from exc
        if stats is not None:
            stats.put_ms += (time.perf_counter() - t0) * 1000
            stats.put_bytes += src.stat().st_size
            stats.puts += 1
        return self.uri(key)

    def size(self, uri: str) -> int:
        """The object's size in bytes (a HEAD request); a missing object is a BadInput."""
        bucket, key = parse_uri(uri)
        try:
            return int(self._client.head_object(Bucket=bucket, Key=key)["ContentLength"])
        except _transfer_errors() as exc:
            raise _storage_error(exc, f"read {uri}") from exc

    def get_bytes(self, uri: str, stats: StorageStats | None = None) -> bytes:
        bucket, key = parse_uri(uri)
        t0 = time.perf_counter()
        try:
            body = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except _transfer_errors() as exc:
            raise _storage_error(exc, f"read {uri}") from exc
        if stats is not None:
            stats.get_ms += (time.perf_counter() - t0) * 1000
            stats.get_bytes += len(body)
            stats.gets += 1
        return body

    def put_bytes(self, data: bytes, key: str, stats: StorageStats | None = None) -> str:
        t0 = time.perf_counter()
        # One PUT replaces the object whole: readers see the old or the new version, never half.
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except _transfer_errors() as exc:
            raise _storage_error(exc, f"write {self.uri(key)}") from exc
        if stats is not None:
            stats.put_ms += (time.perf_counter() - t0) * 1000
            stats.put_bytes += len(data)
            stats.puts += 1
        return self.uri(key)

    def get_json(self, uri: str, stats: StorageStats | None = None) -> Any:
        data = self.get_bytes(uri, stats)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise BadInput(f"{uri} is not JSON: {exc}") from exc

    def put_json(self, obj: Any, key: str, stats: StorageStats | None = None) -> str:
        return self.put_bytes(json.dumps(obj, indent=1).encode(), key, stats)
