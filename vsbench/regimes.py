"""Deployment regimes: named scaling policies for every function, from config.

``config/config.yaml`` holds ``regimes: {name: {policy fields..., overrides: {function:
{fields...}}}}``; memory defaults to the function's registry figure. Values not given take
:class:`~vsbench.platform.policy.ScalingPolicy`'s defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from functions.registry import ALL_FUNCTIONS, FUNCTIONS

from .errors import VsbError
from .platform.policy import PolicyError, ScalingPolicy

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"


def load_config(path: Path | None = None) -> dict[str, Any]:
    path = path or DEFAULT_CONFIG
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise VsbError(f"{path}: config file not found; pass --config PATH") from None
    except yaml.YAMLError as exc:
        raise VsbError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise VsbError(f"{path}: the config must be a mapping")
    return data


def regime_names(config: dict[str, Any]) -> list[str]:
    return list((config.get("regimes") or {}).keys())


def resolve_regime(config: dict[str, Any], name: str,
                   functions: list[str] | None = None) -> dict[str, ScalingPolicy]:
    """The policy of each function under regime ``name``."""
    regimes = config.get("regimes") or {}
    if name not in regimes:
        raise VsbError(f"unknown regime {name!r}; config defines: "
                       f"{', '.join(regimes) or 'none'}")
    spec = dict(regimes[name] or {})
    overrides = spec.pop("overrides", {}) or {}
    spec.pop("description", None)
    unknown = sorted(set(overrides) - set(ALL_FUNCTIONS))
    if unknown:
        raise VsbError(f"regime {name!r}: overrides name unknown functions {unknown}")
    out = {}
    for fn in functions or list(FUNCTIONS):
        if fn not in ALL_FUNCTIONS:
            raise VsbError(f"unknown function {fn!r}; known: {', '.join(ALL_FUNCTIONS)}")
        values = {"memory_mb": ALL_FUNCTIONS[fn].memory_mb,
                  "timeout_s": ALL_FUNCTIONS[fn].timeout_s, **spec,
                  **(overrides.get(fn) or {})}
        try:
            out[fn] = ScalingPolicy.from_dict(values)
        except (PolicyError, TypeError) as exc:
            raise VsbError(f"regime {name!r}, function {fn}: {exc}") from None
    return out
