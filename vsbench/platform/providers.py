"""Replica providers: where a function's replicas run. Local processes now; containers later
through the same interface (a factory that makes an unstarted replica from an id)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .process_replica import ProcessReplica
from .scaling import ReplicaFactory


@dataclass
class ProcessProvider:
    """Each replica a ``python -m functions.runtime`` process on a loopback port."""

    log_dir: Path
    base_env: dict[str, str]

    name = "process"

    def factory(self, function: str, env: dict[str, str]) -> ReplicaFactory:
        merged = {**self.base_env, **env}

        def make(replica_id: str) -> ProcessReplica:
            return ProcessReplica(function, replica_id, merged, self.log_dir)

        return make
