"""The study's grid, from config: platforms × hosts × regimes × workloads × repetitions, plus
the one-factor sweeps (RQ2): regimes derived from one base regime by changing a single factor
(``min_replicas``, ``max_replicas`` or ``idle_timeout_s``), under the sweeps' workloads.

A host is where the embedded platform's replicas run (``process`` or ``container``). A run's
platform label joins the two (``embedded``, ``embedded-container``): it names the archive
folder and the ``platform`` column of every table, so hosts compare like platforms.

Sweep regimes are named by :func:`sweep_name` (``sweep-min-1``, ``sweep-max-8``,
``sweep-idle-30s``, ``sweep-idle-never``) and derived from ``sweeps.base_regime`` by setting
that one field for every function (a per-function override of it is dropped);
:func:`with_sweep_regimes` adds them to the config's regimes, so ``vsbench experiment --regime
sweep-idle-30s`` resolves like any other regime. A sweep value equal to the base regime's is the
base regime itself: its runs serve every sweep and the grid.
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
        from .archive import run_dir

        return run_dir(self.label, self.regime, self.workload, self.rep)


SWEEP_PREFIX = "sweep-"
# factor (a ScalingPolicy field) -> its short name in sweep regime names
SWEEP_FACTORS = {"min_replicas": "min", "max_replicas": "max", "idle_timeout_s": "idle"}


def sweep_name(factor: str, value: float | None) -> str:
    """``sweep-min-1``, ``sweep-max-8``, ``sweep-idle-30s``, ``sweep-idle-never`` (None)."""
    if factor not in SWEEP_FACTORS:
        raise VsbError(f"unknown sweep factor {factor!r}; factors are {', '.join(SWEEP_FACTORS)}")
    if value is None:
        text = "never"
    else:
        text = f"{float(value):g}" + ("s" if factor == "idle_timeout_s" else "")
    return f"{SWEEP_PREFIX}{SWEEP_FACTORS[factor]}-{text}"


def is_sweep(regime: str) -> bool:
    return str(regime).startswith(SWEEP_PREFIX)


def sweep_factor(regime: str) -> str | None:
    """The factor a sweep regime's name varies (None for other regimes)."""
    if not is_sweep(regime):
        return None
    short = str(regime)[len(SWEEP_PREFIX):].split("-", 1)[0]
    return next((f for f, s in SWEEP_FACTORS.items() if s == short), None)


def _sweeps(config: dict[str, Any]) -> dict[str, Any]:
    return (config.get("study") or {}).get("sweeps") or {}


def _points(config: dict[str, Any]) -> list[tuple[str, float | None]]:
    sweeps = _sweeps(config)
    return [(f, v) for f in SWEEP_FACTORS for v in sweeps.get(f) or []]


def _same(a: Any, b: Any) -> bool:
    return (a is None and b is None) or (a is not None and b is not None
                                         and float(a) == float(b))


def sweep_regime(config: dict[str, Any], factor: str, value: float | None) -> str:
    """The regime that runs a sweep point: the base regime when the value is its own."""
    base = _sweeps(config).get("base_regime")
    regimes = config.get("regimes") or {}
    if base not in regimes:
        raise VsbError(f"study.sweeps.base_regime {base!r} is not a regime; config defines: "
                       f"{', '.join(regimes)}")
    return base if _same(regimes[base].get(factor), value) else sweep_name(factor, value)


def with_sweep_regimes(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of config whose ``regimes`` include the sweeps' derived regimes."""
    config = copy.deepcopy(config)
    points = _points(config)
    if not points:
        return config
    regimes = config.setdefault("regimes", {})
    base = _sweeps(config).get("base_regime")
    for factor, value in points:
        name = sweep_regime(config, factor, value)
        if name == base:
            continue
        derived = copy.deepcopy(regimes[base])
        derived[factor] = None if value is None else (
            float(value) if factor == "idle_timeout_s" else int(value))
        for override in (derived.get("overrides") or {}).values():
            if override:
                override.pop(factor, None)
        derived["description"] = f"{base} with {factor}={'never' if value is None else value}"
        if int(derived.get("min_replicas") or 0) > int(derived.get("max_replicas") or 1):
            raise VsbError(f"study.sweeps: {factor}={value} gives min_replicas "
                           f"{derived.get('min_replicas')} > max_replicas "
                           f"{derived.get('max_replicas')} on base regime {base!r}; choose "
                           "values the base regime allows")
        regimes[name] = derived
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
    sweeps = _sweeps(config)
    sweep_reps = range(1, int(sweeps.get("repetitions", 1)) + 1)
    for factor, value in _points(config):
        regime = sweep_regime(config, factor, value)
        for p, h in targets:
            for w in sweeps.get("workloads") or []:
                for k in sweep_reps:
                    runs.append(Run(p, regime, w, k, h))
    unknown_w = {r.workload for r in runs} - set(config.get("workloads") or {})
    if unknown_w:
        raise VsbError(f"study names workloads not in config.workloads: {sorted(unknown_w)}")
    return list(dict.fromkeys(runs))
