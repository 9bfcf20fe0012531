"""The embedded platform on one machine: an S3 server, the gateway and process replicas.

``EmbeddedPlatform`` runs the gateway on a private event loop in a thread of the calling
process: ``vsbench platform up`` runs it in a background daemon; ``vsbench process`` and the
tests run it in-process when no platform is up. Functions are deployed through the gateway's
own API, exactly as against OpenFaaS.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from functions.runtime.claimcheck import ClaimCheckStore

from .admin import GatewayAdmin
from .auth import BasicAuth
from .events import PlatformLogs
from .gateway import Gateway
from .policy import ScalingPolicy
from .providers import ProcessProvider
from .s3server import S3Server


class EmbeddedPlatform:
    def __init__(self, state_dir: Path, s3_kind: str = "auto", enforce_memory: bool = True):
        self.state_dir = state_dir
        self.s3 = S3Server(log_dir=state_dir / "logs", kind=s3_kind)
        self.logs = PlatformLogs(state_dir / "events")
        self.auth_file = state_dir / "basic-auth"
        self.auth: BasicAuth | None = None
        self.gateway: Gateway | None = None
        self.enforce_memory = enforce_memory
        self.startup_s: float | None = None

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None, "platform not started"
        return self.gateway.url

    @property
    def store(self) -> ClaimCheckStore:
        return ClaimCheckStore(self.s3.settings())

    def admin(self) -> GatewayAdmin:
        return GatewayAdmin(self.gateway_url, self.auth.as_tuple() if self.auth else None)

    def start(self) -> EmbeddedPlatform:
        t0 = time.perf_counter()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.s3.start()
            self.auth = BasicAuth.resolve(self.auth_file)
            telemetry = self.state_dir / "telemetry"
            telemetry.mkdir(parents=True, exist_ok=True)
            provider = ProcessProvider(self.state_dir / "replicas", {
                **self.s3.settings().to_env(),
                "VSB_TELEMETRY_DIR": str(telemetry),
                "VSB_GATEWAY_AUTH_FILE": str(self.auth_file),
            })
            self.gateway = Gateway(provider, self.logs, self.auth,
                                   enforce_memory=self.enforce_memory)
            self.gateway.start_in_thread()
            provider.base_env["VSB_GATEWAY_URL"] = self.gateway.url
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def deploy(self, policies: dict[str, ScalingPolicy], wait: bool = True,
               images: dict[str, str] | None = None) -> None:
        """(Re)deploy functions through the gateway API; wait for their min replicas."""
        admin = self.admin()
        for name, policy in policies.items():
            admin.deploy(name, policy, (images or {}).get(name, f"vsbench/{name}:local"))
        if wait:
            admin.wait_available(list(policies))

    def describe(self) -> dict[str, Any]:
        return {"gateway_url": self.gateway_url, "s3_url": self.s3.url,
                "s3_kind": self.s3.kind, "basic_auth_file": str(self.auth_file),
                "state_dir": str(self.state_dir), "bucket": self.s3.bucket}

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop_thread()
            self.gateway = None
        self.s3.stop()
        self.logs.close()

    def __enter__(self) -> EmbeddedPlatform:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
