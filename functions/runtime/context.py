"""What a handler sees during one invocation: its envelope, a private work dir, storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .claimcheck import ClaimCheckStore, StorageStats, artifact_key, check_input_key
from .envelope import Envelope
from .errors import BadEnvelope, StageError
from .telemetry import InvocationMeter, ToolError, ToolRun, run_tool


class InvocationContext:
    """One invocation. ``workdir`` is private to it, so concurrent requests share no files."""

    def __init__(
        self,
        envelope: Envelope,
        function: str,
        store: ClaimCheckStore | None,
        workdir: Path,
        meter: InvocationMeter,
        replica_id: str = "",
    ):
        self.envelope = envelope
        self.function = function
        self.store = store
        self.workdir = workdir
        self.meter = meter
        self.stats = StorageStats()
        self.replica_id = replica_id

    @property
    def request_id(self) -> str:
        return self.envelope.request_id

    @property
    def config(self) -> dict[str, Any]:
        return self.envelope.config

    @property
    def inputs(self) -> dict[str, Any]:
        return self.envelope.inputs

    def cfg(self, key: str, default: Any, kind: type | tuple[type, ...] | None = None) -> Any:
        """A config value, or ``default`` (also for a JSON null, unless ``kind`` allows None);
        a value of the wrong type is a :class:`BadEnvelope`."""
        value = self.envelope.config.get(key, default)
        kind = kind or type(default)
        if kind is float:
            kind = (int, float)
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if value is None and type(None) not in kinds:
            value = default
        if value is not None and kind is not type(None) and not isinstance(value, kind):
            raise BadEnvelope(f"config {key!r} must be {kind}, got {value!r}")
        return value

    def input(self, name: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """An input, checked against ``kind`` when given (a wrong type is a
        :class:`BadEnvelope` naming the input)."""
        if name not in self.envelope.inputs:
            raise BadEnvelope(f"stage {self.function} needs input {name!r}")
        value = self.envelope.inputs[name]
        if kind is not None and not isinstance(value, kind):
            raise BadEnvelope(f"stage {self.function}: input {name!r} must be "
                              f"{getattr(kind, '__name__', kind)}, got {type(value).__name__}")
        return value

    def _store(self) -> ClaimCheckStore:
        if self.store is None:
            raise StageError("this replica has no object store configured (VSB_S3_ENDPOINT)")
        return self.store

    def key(self, name: str) -> str:
        return artifact_key(self.request_id, self.function, name)

    def checked_uri(self, uri: Any) -> str:
        """An input URI this request may read (:func:`.claimcheck.check_input_key`)."""
        check_input_key(_uri(uri), self._store().bucket, self.request_id)
        return uri

    def fetch(self, uri: str, filename: str | None = None) -> Path:
        """Download an artifact into the work dir (under its own name, or ``filename``)."""
        self.checked_uri(uri)
        dest = self.workdir / (filename or Path(uri).name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return self._store().get_file(uri, dest, self.stats)

    def input_size(self, uri: str) -> int:
        """The size in bytes of an input this request may read, without downloading it."""
        return self._store().size(self.checked_uri(uri))

    def fetch_json(self, uri: str) -> Any:
        return self._store().get_json(self.checked_uri(uri), self.stats)

    def put_file(self, path: Path, name: str) -> str:
        return self._store().put_file(path, self.key(name), self.stats)

    def put_json(self, obj: Any, name: str) -> str:
        return self._store().put_json(obj, self.key(name), self.stats)

    def tool(self, cmd: list[str], timeout_s: float = 300.0) -> ToolRun:
        """Run an external tool, counting its CPU; a failure becomes a :class:`StageError`."""
        try:
            return run_tool(cmd, self.meter, timeout_s=timeout_s, cwd=self.workdir)
        except ToolError as exc:
            raise StageError(f"{self.function}: {exc}") from exc


def _uri(value: Any) -> str:
    """An object URI as an input gives it: a string, else a :class:`BadEnvelope`."""
    if not isinstance(value, str):
        raise BadEnvelope(f"an object URI must be a string, got {type(value).__name__}")
    return value
