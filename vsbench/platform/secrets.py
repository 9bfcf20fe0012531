"""Function secrets, as OpenFaaS's ``/system/secrets`` manages them: one file per secret.

``<dir>/<namespace>/<name>``, mode 0600, in the platform's state folder (a temporary folder
when the gateway runs without one). Values are never listed or logged; deployments name
secrets in ``secrets`` and the container host mounts each file read-only at
``/var/openfaas/secrets/<name>``, where OpenFaaS functions read them.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .deployment import DEFAULT_NAMESPACE, DeploymentError, check_name

MOUNT_DIR = "/var/openfaas/secrets"


class SecretStore:
    def __init__(self, root: Path | None = None):
        self._tmp = None if root is not None else tempfile.mkdtemp(prefix="vsb-secrets-")
        self.root = Path(root if root is not None else self._tmp)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> Path:
        return self.root / namespace / name

    @staticmethod
    def parse(body: Any) -> tuple[str, str, bytes]:
        """(name, namespace, value) from a Secret body; :class:`DeploymentError` if bad.
        Neither ``value`` nor ``rawValue``: an empty secret, as OpenFaaS allows."""
        if not isinstance(body, dict):
            raise DeploymentError("the body must be a JSON object like "
                                  '{"name": "api-key", "value": "..."}')
        name, ns = body.get("name"), body.get("namespace", "")
        if not isinstance(name, str):
            raise DeploymentError("secret 'name' (a string) is required")
        if not isinstance(ns, str):
            raise DeploymentError("secret 'namespace' must be a string")
        ns = ns or DEFAULT_NAMESPACE
        value, raw = body.get("value"), body.get("rawValue")
        if value is not None and not isinstance(value, str):
            raise DeploymentError("secret 'value' must be a string")
        if raw is not None and not isinstance(raw, str):
            raise DeploymentError("secret 'rawValue' must be a base64 string")
        data = b""
        if value:
            data = value.encode()
        elif raw:
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise DeploymentError("secret 'rawValue' is not valid base64") from None
        return name, ns, data

    @staticmethod
    def valid(name: str, namespace: str) -> bool:
        try:
            check_name(name, "name")
            check_name(namespace, "namespace")
            return True
        except DeploymentError:
            return False

    def exists(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> bool:
        """Whether it exists (a name no secret can have: never)."""
        return self.valid(name, namespace) and self.path(name, namespace).is_file()

    def write(self, name: str, namespace: str, data: bytes) -> None:
        check_name(name, "secret 'name'")  # never a path outside the store
        check_name(namespace, "secret 'namespace'")
        path = self.path(name, namespace)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(path.with_suffix(".tmp"), path)

    def delete(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> bool:
        if not self.valid(name, namespace):
            return False
        try:
            self.path(name, namespace).unlink()
            return True
        except FileNotFoundError:
            return False

    def list(self, namespace: str | None = None) -> list[dict[str, str]]:
        out = []
        for ns_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if namespace and ns_dir.name != namespace:
                continue
            out += [{"name": f.name, "namespace": ns_dir.name}
                    for f in sorted(ns_dir.iterdir()) if f.is_file() and f.suffix != ".tmp"]
        return out

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
