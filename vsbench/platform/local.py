"""Everything ``vsbench process`` needs on one machine: S3, one replica per function, a gateway.

Each function gets a fixed replica that is started (and made ready) before the request is
sent, so the request itself runs warm. The scaling platform replaces the fixed pools.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from functions.registry import FUNCTIONS
from functions.runtime.claimcheck import ClaimCheckStore

from .gateway import Gateway
from .pool import StaticPool
from .process_replica import ProcessReplica
from .s3server import S3Server


class LocalPlatform:
    def __init__(self, work_dir: Path, function_config: dict[str, dict] | None = None,
                 functions: list[str] | None = None):
        self.work_dir = work_dir
        self.function_config = function_config or {}
        self.functions = functions or list(FUNCTIONS)
        self.s3 = S3Server(log_dir=work_dir / "logs")
        self.gateway: Gateway | None = None
        self.replicas: list[ProcessReplica] = []
        self.startup_s: float | None = None

    @property
    def store(self) -> ClaimCheckStore:
        return ClaimCheckStore(self.s3.settings())

    @property
    def gateway_url(self) -> str:
        assert self.gateway is not None
        return self.gateway.url

    def start(self) -> LocalPlatform:
        t0 = time.perf_counter()
        try:
            self.s3.start()
            pools: dict[str, Any] = {}
            self.gateway = Gateway(pools).start_in_thread()
            telemetry = self.work_dir / "telemetry"
            telemetry.mkdir(parents=True, exist_ok=True)
            for name in self.functions:
                env = {**self.s3.settings().to_env(),
                       "VSB_GATEWAY_URL": self.gateway.url,
                       "VSB_TELEMETRY_DIR": str(telemetry),
                       "VSB_FUNCTION_CONFIG": json.dumps(self.function_config.get(name, {}))}
                self.replicas.append(ProcessReplica(name, f"{name}-0", env,
                                                    self.work_dir / "logs"))
            for rep in self.replicas:
                rep.spawn()
            # Readiness is awaited concurrently: the replicas initialise side by side.
            with ThreadPoolExecutor(len(self.replicas)) as ex:
                list(ex.map(lambda r: r.wait_ready(), self.replicas))
            for rep in self.replicas:
                pools[rep.function] = StaticPool(rep.function, [rep])
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - t0
        return self

    def stop(self) -> None:
        for rep in self.replicas:
            rep.stop()
        self.replicas = []
        if self.gateway:
            self.gateway.stop_thread()
            self.gateway = None
        self.s3.stop()

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
