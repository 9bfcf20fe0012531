"""The study's grid, from config: platforms × hosts × regimes × workloads × repetitions, plus
the keep-alive sweep (several idle timeouts of one base regime under one bursty workload).

A host is where the embedded platform's replicas run (``process`` or ``container``). A run's
platform label joins the two (``embedded``, ``embedded-container``): it names the archive
folder and the ``platform`` column of every table, so hosts compare like platforms.

Sweep regimes are named ``ka-{T}s`` and derived from ``keepalive_sweep.base_regime`` by
changing only ``idle_timeout_s`` to T; :func:`with_sweep_regimes` adds them to the config's
regimes so ``vsbench experiment --regime ka-5s`` resolves like any other regime.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .errors import VsbError
from .platform.providers import DEFAULT_HOST, HOSTS

# Hosts whose label is the host's own name: the gateway then plays that platform's part.
PLATFORM_HOSTS = {"kubernetes": "kubernetes"}


def platform_label(platform: str, host: str = DEFAULT_HOST) -> str:
    """``embedded`` + ``process`` → ``embedded``; + ``container`` → ``embedded-container``;
    + ``kubernetes`` → ``kubernetes`` (the gateway as faas-netes, pods on a cluster)."""
    if host not in HOSTS:
        raise VsbError(f"unknown host {host!r}; hosts are {', '.join(HOSTS)}")
    if host in PLATFORM_HOSTS:
        return PLATFORM_HOSTS[host]
    return platform if host == DEFAULT_HOST else f"{platform}-{host}"


def split_platform_label(label: str) -> tuple[str, str]:
    """The inverse of :func:`platform_label`."""
    for host, name in PLATFORM_HOSTS.items():
        if label == name:
            return "embedded", host
    for host in HOSTS:
        if host != DEFAULT_HOST and label.endswith(f"-{host}"):
            return label[: -len(host) - 1], host
    return label, DEFAULT_HOST


@dataclass(frozen=True)
class Run:
    platform: str
    regime: str
    workload: str
    rep: int
    host: str = DEFAULT_HOST

    @property
    def label(self) -> str:
        return platform_label(self.platform, self.host)

    @property
    def path(self) -> str:
        return f"raw/{self.label}/{self.regime}/{self.workload}/rep{self.rep}"


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
    hosts = study.get("hosts") or [DEFAULT_HOST]
    for host in hosts:
        platform_label("embedded", host)  # unknown hosts fail here, with the list
    targets = []
    for p in study.get("platforms", ["embedded"]):
        own = [h for h, name in PLATFORM_HOSTS.items() if name == p]
        targets += [("embedded", own[0])] if own else [(p, h) for h in hosts]
    runs = [Run(p, r, w, k, h) for p, h in targets
            for r in study.get("regimes", []) for w in study.get("workloads", []) for k in reps]
    sweep = study.get("keepalive_sweep") or {}
    sweep_reps = range(1, int(sweep.get("repetitions", 1)) + 1)
    for t in sweep.get("idle_timeouts_s", []):
        for p, h in targets:
            for k in sweep_reps:
                runs.append(Run(p, sweep_name(float(t)), sweep["workload"], k, h))
    unknown_w = {r.workload for r in runs} - set(config.get("workloads") or {})
    if unknown_w:
        raise VsbError(f"study names workloads not in config.workloads: {sorted(unknown_w)}")
    return list(dict.fromkeys(runs))
