"""Scaling policy of one function: the knobs OpenFaaS Pro and Knative expose.

On the wire (the gateway's deploy API) a policy travels as OpenFaaS labels, so a deployment
request for the embedded gateway is also a valid OpenFaaS one:

=================  =========================================  ==============================
field              OpenFaaS                                   Knative
=================  =========================================  ==============================
min_replicas       label ``com.openfaas.scale.min``           ``autoscaling…/min-scale``
max_replicas       label ``com.openfaas.scale.max``           ``autoscaling…/max-scale``
target_inflight    label ``com.openfaas.scale.target``        ``autoscaling…/target``
                   (with ``com.openfaas.scale.type=capacity``)
max_inflight       watchdog env ``max_inflight``              ``containerConcurrency``
idle_timeout_s     ``com.openfaas.scale.zero=true`` +         scale-to-zero retention
                   ``com.openfaas.scale.zero-duration``
queue_timeout_s    label ``vsbench.queue-timeout``            (activator timeout)
memory_mb          ``limits.memory`` ("512Mi")                resources.limits.memory
timeout_s          watchdog env ``exec_timeout``              ``timeoutSeconds``
starter            label ``vsbench.starter`` (vsbench only)   (none)
prewarm            label ``vsbench.prewarm`` (vsbench only)   (none)
keepalive          labels ``vsbench.keepalive`` (the policy)  (none)
                   and ``vsbench.keepalive.<parameter>``
=================  =========================================  ==============================

``starter`` is how a replica starts: ``spawn`` (a new interpreter, as a container start),
``fork-server`` (forked from a resident template that has done the imports:
:mod:`.fork_server`, process host only) or ``prewarm`` (``prewarm`` spare replicas started
ahead of demand and handed out when one is needed: :mod:`.prewarm`; process and container
hosts: on Kubernetes a replica is a pod of the function's Deployment, whose count is the
scaler's).

``keepalive`` is the keep-alive policy (:mod:`.keepalive`): ``{policy: fixed}`` (the idle
timeout), ``{policy: histogram, ...}`` (the hybrid histogram policy of ATC'20, whose fixed
fallback is ``idle_timeout_s``) or ``{policy: oracle, break_even_s}`` (simulation only).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from . import keepalive as ka

LABEL_MIN = "com.openfaas.scale.min"
LABEL_MAX = "com.openfaas.scale.max"
LABEL_TARGET = "com.openfaas.scale.target"
LABEL_TYPE = "com.openfaas.scale.type"
LABEL_ZERO = "com.openfaas.scale.zero"
LABEL_ZERO_DURATION = "com.openfaas.scale.zero-duration"
LABEL_QUEUE_TIMEOUT = "vsbench.queue-timeout"
LABEL_STARTER = "vsbench.starter"
LABEL_PREWARM = "vsbench.prewarm"
LABEL_KEEPALIVE = "vsbench.keepalive"  # + ".<parameter>" for each of the policy's parameters
STARTERS = ("spawn", "fork-server", "prewarm")  # a host's provider lists those it has
ENV_MAX_INFLIGHT = "max_inflight"
ENV_EXEC_TIMEOUT = "exec_timeout"  # of-watchdog's per-call limit; the gateway applies it too


class PolicyError(ValueError):
    """A policy value that cannot work, with the field and what to do."""


@dataclass
class ScalingPolicy:
    min_replicas: int = 0
    max_replicas: int = 4
    target_inflight: int = 1  # in-flight requests per replica the scaler aims at (capacity)
    max_inflight: int = 1  # hard limit per replica; more wait in the gateway's queue
    idle_timeout_s: float | None = 10.0  # scale-to-zero / keep-alive; None = never
    queue_timeout_s: float = 60.0  # longest a request waits for a slot before a 504
    max_queue: int = 1000  # waiting requests beyond this get a 429 (Retry-After) at once
    memory_mb: int = 256  # billed by the cost model; enforced by the RSS watchdog
    timeout_s: float = 60.0  # longest one call may take before the gateway answers 504
    starter: str = "spawn"  # how a replica starts: STARTERS
    prewarm: int = 1  # starter prewarm: spare replicas kept started and unassigned
    keepalive: dict[str, Any] = field(default_factory=lambda: {"policy": "fixed"})

    def validate(self) -> ScalingPolicy:
        if self.min_replicas < 0:
            raise PolicyError(f"min_replicas must be >= 0, got {self.min_replicas}")
        if self.max_replicas < max(1, self.min_replicas):
            raise PolicyError(f"max_replicas ({self.max_replicas}) must be >= 1 and >= "
                              f"min_replicas ({self.min_replicas})")
        if self.max_inflight < 1 or self.target_inflight < 1:
            raise PolicyError("target_inflight and max_inflight must be >= 1")
        if self.target_inflight > self.max_inflight:
            raise PolicyError(f"target_inflight ({self.target_inflight}) must not exceed "
                              f"max_inflight ({self.max_inflight})")
        if self.idle_timeout_s is not None and self.idle_timeout_s <= 0:
            raise PolicyError(f"idle_timeout_s must be > 0 or null (never), "
                              f"got {self.idle_timeout_s}")
        if self.queue_timeout_s <= 0:
            raise PolicyError(f"queue_timeout_s must be > 0, got {self.queue_timeout_s}")
        if self.memory_mb < 1:  # as Kubernetes, any positive limit; too small fails at start
            raise PolicyError(f"memory_mb must be >= 1, got {self.memory_mb}")
        if self.timeout_s <= 0:
            raise PolicyError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.starter not in STARTERS:
            raise PolicyError(f"starter must be one of {', '.join(STARTERS)}, got "
                              f"{self.starter!r}")
        if self.prewarm < (1 if self.starter == "prewarm" else 0):
            raise PolicyError(f"prewarm (spare replicas) must be >= 1 with starter prewarm, "
                              f"and >= 0, got {self.prewarm}")
        try:
            self.keepalive = ka.check_spec(self.keepalive)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
        return self

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScalingPolicy:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PolicyError(f"unknown policy keys {unknown}; known: {sorted(known)}")
        return cls(**values).validate()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # --- OpenFaaS deployment wire format -------------------------------------------------
    def to_deployment(self, name: str, image: str, env: dict[str, str] | None = None,
                      labels: dict[str, str] | None = None) -> dict[str, Any]:
        lab = {
            LABEL_MIN: str(self.min_replicas),
            LABEL_MAX: str(self.max_replicas),
            LABEL_TARGET: str(self.target_inflight),
            LABEL_TYPE: "capacity",
            LABEL_ZERO: "false" if self.idle_timeout_s is None else "true",
            LABEL_QUEUE_TIMEOUT: f"{self.queue_timeout_s:g}s",
            **(labels or {}),
        }
        if self.idle_timeout_s is not None:
            lab[LABEL_ZERO_DURATION] = f"{self.idle_timeout_s:g}s"
        if self.starter != "spawn":
            lab[LABEL_STARTER] = self.starter
        if self.starter == "prewarm":
            lab[LABEL_PREWARM] = str(self.prewarm)
        spec = ka.check_spec(self.keepalive)
        if spec["policy"] != "fixed":
            lab[LABEL_KEEPALIVE] = spec.pop("policy")
            lab.update({f"{LABEL_KEEPALIVE}.{k}": f"{v:g}" for k, v in spec.items()})
        return {
            "service": name,
            "image": image,
            "labels": lab,
            "envVars": {ENV_MAX_INFLIGHT: str(self.max_inflight),
                        ENV_EXEC_TIMEOUT: f"{self.timeout_s:g}s", **(env or {})},
            "limits": {"memory": f"{self.memory_mb}Mi"},
        }

    @classmethod
    def from_deployment(cls, body: dict[str, Any]) -> ScalingPolicy:
        labels = body.get("labels") or {}
        env = body.get("envVars") or {}
        p = cls(min_replicas=1)  # OpenFaaS starts one replica unless a label says otherwise
        where = ""

        def get(source: dict, key: str, parse):
            nonlocal where
            where = f"label {key}" if source is labels else f"envVars.{key}"
            return parse(source[key])

        try:
            if LABEL_MIN in labels:
                p.min_replicas = get(labels, LABEL_MIN, int)
            if LABEL_MAX in labels:
                p.max_replicas = get(labels, LABEL_MAX, int)
            elif p.max_replicas < p.min_replicas:
                p.max_replicas = p.min_replicas
            if LABEL_TARGET in labels:
                p.target_inflight = get(labels, LABEL_TARGET, int)
            if ENV_MAX_INFLIGHT in env:
                p.max_inflight = get(env, ENV_MAX_INFLIGHT, int)
            p.target_inflight = min(p.target_inflight, p.max_inflight)
            zero = str(labels.get(LABEL_ZERO, "false")).lower() == "true"
            p.idle_timeout_s = (get(labels, LABEL_ZERO_DURATION, parse_duration)
                                if zero and LABEL_ZERO_DURATION in labels
                                else 900.0 if zero else None)  # OpenFaaS's default: 15m
            if ENV_EXEC_TIMEOUT in env:
                p.timeout_s = get(env, ENV_EXEC_TIMEOUT, parse_duration)
            if LABEL_QUEUE_TIMEOUT in labels:
                p.queue_timeout_s = get(labels, LABEL_QUEUE_TIMEOUT, parse_duration)
            if LABEL_STARTER in labels:
                p.starter = str(labels[LABEL_STARTER])
            if LABEL_PREWARM in labels:
                p.prewarm = get(labels, LABEL_PREWARM, int)
            if LABEL_KEEPALIVE in labels:
                p.keepalive = {"policy": str(labels[LABEL_KEEPALIVE])}
                for key in labels:
                    if key.startswith(LABEL_KEEPALIVE + "."):
                        p.keepalive[key[len(LABEL_KEEPALIVE) + 1:]] = get(labels, key, _number)
            mem = (body.get("limits") or {}).get("memory")
            if mem:
                where = "limits.memory"
                p.memory_mb = parse_memory_mb(mem)
        except ValueError as exc:
            msg = str(exc) if "not a" in str(exc) else f"not a whole number: {exc}"
            raise PolicyError(f"deployment of {body.get('service')!r}: {where}: "
                              f"{msg}") from None
        return p.validate()


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(text: str | float) -> float:
    """Seconds from ``"500ms"``, ``"10s"``, ``"15m"``, ``"1h"`` or a bare number of seconds."""
    if isinstance(text, int | float):
        return float(text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 10s, 15m)")
    value, unit = float(m.group(1)), m.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|K|M|G)?\s*$")


def parse_memory_mb(text: str) -> int:
    """MiB from Kubernetes quantities: ``"512Mi"``, ``"1Gi"``, ``"256M"``, bytes."""
    m = _MEMORY.match(str(text))
    if not m:
        raise ValueError(f"not a memory quantity: {text!r} (use e.g. 512Mi)")
    value, unit = float(m.group(1)), m.group(2) or ""
    factor = {"": 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1e3 / 2**20,
              "M": 1e6 / 2**20, "G": 1e9 / 2**20}[unit]  # bare number = bytes, as in k8s
    return max(1, round(value * factor))
