"""The study's grid, from config: platforms × regimes × workloads × repetitions, plus the
keep-alive sweep (several idle timeouts of one base regime under one bursty workload).

Sweep regimes are named ``ka-{T}s`` and derived from ``keepalive_sweep.base_regime`` by
changing only ``idle_timeout_s`` to T; :func:`with_sweep_regimes` adds them to the config's
regimes so ``vsbench experiment --regime ka-5s`` resolves like any other regime.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .errors import VsbError


@dataclass(frozen=True)
class Run:
    platform: str
    regime: str
    workload: str
    rep: int

    @property
    def path(self) -> str:
        return f"raw/{self.platform}/{self.regime}/{self.workload}/rep{self.rep}"


def sweep_name(idle_timeout_s: float) -> str:
    return f"ka-{idle_timeout_s:g}s"


def with_sweep_regimes(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of config whose ``regimes`` include the keep-alive sweep's derived regimes."""
    config = copy.deepcopy(config)
    sweep = (config.get("study") or {}).get("keepalive_sweep") or {}
    if not sweep.get("idle_timeouts_s"):
        return config
    regimes = config.setdefault("regimes", {})
    base = sweep.get("base_regime")
    if base not in regimes:
        raise VsbError(f"study.keepalive_sweep.base_regime {base!r} is not a regime; config "
                       f"defines: {', '.join(regimes)}")
    for t in sweep["idle_timeouts_s"]:
        derived = copy.deepcopy(regimes[base])
        derived["idle_timeout_s"] = float(t)
        for override in (derived.get("overrides") or {}).values():
            if override:
                override.pop("idle_timeout_s", None)
        derived["description"] = f"{base} with idle_timeout_s={t:g} (keep-alive sweep)"
        regimes[sweep_name(float(t))] = derived
    return config


def study_runs(config: dict[str, Any]) -> list[Run]:
    """Every run of the study: the grid, then the keep-alive sweep."""
    study = config.get("study") or {}
    reps = range(1, int(study.get("repetitions", 1)) + 1)
    runs = [Run(p, r, w, k) for p in study.get("platforms", ["embedded"])
            for r in study.get("regimes", []) for w in study.get("workloads", []) for k in reps]
    sweep = study.get("keepalive_sweep") or {}
    sweep_reps = range(1, int(sweep.get("repetitions", 1)) + 1)
    for t in sweep.get("idle_timeouts_s", []):
        for p in study.get("platforms", ["embedded"]):
            for k in sweep_reps:
                runs.append(Run(p, sweep_name(float(t)), sweep["workload"], k))
    unknown_w = {r.workload for r in runs} - set(config.get("workloads") or {})
    if unknown_w:
        raise VsbError(f"study names workloads not in config.workloads: {sorted(unknown_w)}")
    return list(dict.fromkeys(runs))
