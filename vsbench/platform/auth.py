"""Basic auth for the gateway's ``/system/*`` API, as OpenFaaS does it.

Credentials come from ``VSB_GATEWAY_USER``/``VSB_GATEWAY_PASSWORD``, or a ``user:password``
file, or are generated into that file (mode 600). They are never logged.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BasicAuth:
    user: str
    password: str = field(repr=False)  # keep it out of reprs, logs and tracebacks

    def check(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user, self.user) & hmac.compare_digest(password,
                                                                          self.password)

    def as_tuple(self) -> tuple[str, str]:
        return (self.user, self.password)

    @classmethod
    def from_file(cls, path: Path) -> BasicAuth:
        user, sep, password = path.read_text().strip().partition(":")
        if not sep or not user or not password:
            raise ValueError(f"{path}: expected one line 'user:password'")
        return cls(user, password)

    @classmethod
    def resolve(cls, path: Path) -> BasicAuth:
        """Environment first, then the file; otherwise generate and save into the file."""
        user, password = os.environ.get("VSB_GATEWAY_USER"), os.environ.get(
            "VSB_GATEWAY_PASSWORD")
        if user and password:
            auth = cls(user, password)
        elif path.exists():
            return cls.from_file(path)
        else:
            auth = cls("admin", secrets.token_urlsafe(18))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{auth.user}:{auth.password}\n")
        return auth
