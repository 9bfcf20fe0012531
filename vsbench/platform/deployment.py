"""OpenFaaS deployment bodies, checked field by field, and the records the gateway returns.

A ``FunctionDeployment`` (``POST``/``PUT /system/functions``) is parsed into
:class:`Deployment`; any field of the wrong type or an invalid name gives a
:class:`DeploymentError` naming the field (the gateway answers 400 with it, never 500).
Field names and types follow OpenFaaS's gateway API description (``api-docs/spec.openapi.yml``
in openfaas/faas); names follow the rule OpenFaaS's providers enforce (a DNS-1123 label).

Everything the platform needs to know about a function travels here, as in OpenFaaS:
scaling in labels, memory in ``limits`` and the per-call timeout in the watchdog's
``exec_timeout`` env var (all read by :mod:`.policy`), the process to fork in ``envProcess``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .policy import PolicyError, ScalingPolicy, parse_memory_mb

DEFAULT_NAMESPACE = "openfaas-fn"
NAME_RULE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # DNS-1123 label
NAME_MAX = 63
# Fields of OpenFaaS's FunctionDeployment that are accepted and kept, but mean nothing here.
IGNORED = ("registryAuth", "network")
# The only fields OpenFaaS's description lets be null; any other null is a 400.
NULLABLE = ("labels", "annotations", "limits", "requests")
KNOWN = ("service", "image", "namespace", "envProcess", "constraints", "envVars", "secrets",
         "labels", "annotations", "limits", "requests", "readOnlyRootFilesystem", *IGNORED)


class DeploymentError(ValueError):
    """A deployment body OpenFaaS's API description or the platform rejects (HTTP 400)."""


def check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DeploymentError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > NAME_MAX or not NAME_RULE.match(value):
        raise DeploymentError(f"{what} {value!r} is not a valid name: lower-case letters, "
                              f"digits and '-', starting and ending with a letter or digit, "
                              f"at most {NAME_MAX} characters")
    return value


def function_key(name: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The gateway's key of a function: ``name`` in the default namespace, ``name.namespace``
    in any other."""
    return name if namespace == DEFAULT_NAMESPACE else f"{name}.{namespace}"


def key_of(qualified: str) -> str:
    """The key ``noop.openfaas-fn`` or ``noop`` (an invocation path, an alert) names."""
    fn, _, ns = qualified.partition(".")
    return function_key(fn, ns or DEFAULT_NAMESPACE)


def _string(body: dict, key: str, required: bool = False) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise DeploymentError(f"'{key}' is required")
        return ""
    if not isinstance(value, str):
        raise DeploymentError(f"'{key}' must be a string, got {type(value).__name__}")
    return value


def _string_map(body: dict, key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DeploymentError(f"'{key}' must be an object of strings, got "
                              f"{type(value).__name__}")
    for k, v in value.items():
        if not isinstance(v, str):
            raise DeploymentError(f"'{key}.{k}' must be a string, got {type(v).__name__}")
    return dict(value)


def _string_list(body: dict, key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeploymentError(f"'{key}' must be an array of strings")
    return list(value)


def _resources(body: dict, key: str) -> dict[str, str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise DeploymentError(f"'{key}' must be an object like {{\"memory\": \"128Mi\"}}, "
                              f"got {type(value).__name__}")
    out = {}
    for k in ("memory", "cpu"):
        if k in value:
            if not isinstance(value[k], str):
                raise DeploymentError(f"'{key}.{k}' must be a string such as \"128Mi\"")
            if value[k]:
                out[k] = value[k]
    if "memory" in out:
        try:
            parse_memory_mb(out["memory"])
        except ValueError as exc:
            raise DeploymentError(f"'{key}.memory': {exc}") from None
    return out


@dataclass
class Deployment:
    service: str
    image: str
    namespace: str = DEFAULT_NAMESPACE
    env_process: str = ""
    env_vars: dict[str, str] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] | None = None
    requests: dict[str, str] | None = None
    read_only_root_fs: bool = False
    policy: ScalingPolicy = field(default_factory=ScalingPolicy)
    created_at: float = field(default_factory=time.time)

    @property
    def timeout_s(self) -> float:
        return self.policy.timeout_s

    @property
    def key(self) -> str:
        return function_key(self.service, self.namespace)

    @property
    def qualified(self) -> str:
        """``name.namespace``, as OpenFaaS names a function in metrics."""
        return f"{self.service}.{self.namespace}"

    @classmethod
    def parse(cls, body: Any) -> Deployment:
        if not isinstance(body, dict):
            raise DeploymentError(f"the body must be a JSON object (a FunctionDeployment), "
                                  f"got {type(body).__name__}")
        for key, value in body.items():
            if value is None and key in KNOWN and key not in NULLABLE:
                raise DeploymentError(f"'{key}' must not be null (leave it out instead)")
        service = check_name(body.get("service"), "'service'")
        namespace = body.get("namespace")
        namespace = (check_name(namespace, "'namespace'") if namespace not in (None, "")
                     else DEFAULT_NAMESPACE)
        read_only = body.get("readOnlyRootFilesystem", False)
        if not isinstance(read_only, bool):
            raise DeploymentError("'readOnlyRootFilesystem' must be true or false")
        for key in IGNORED:
            _string(body, key)
        dep = cls(service=service, image=_string(body, "image", required=True),
                  namespace=namespace, env_process=_string(body, "envProcess"),
                  env_vars=_string_map(body, "envVars"),
                  constraints=_string_list(body, "constraints"),
                  secrets=_string_list(body, "secrets"),
                  labels=_string_map(body, "labels"),
                  annotations=_string_map(body, "annotations"),
                  limits=_resources(body, "limits"), requests=_resources(body, "requests"),
                  read_only_root_fs=read_only)
        for name in dep.secrets:
            check_name(name, "secret name")
        try:
            dep.policy = ScalingPolicy.from_deployment(
                {"service": service, "labels": dep.labels, "envVars": dep.env_vars,
                 "limits": dep.limits or {}})
        except PolicyError as exc:
            raise DeploymentError(str(exc)) from None
        if dep.policy.keepalive["policy"] == "oracle":  # it needs the future
            raise DeploymentError(f"deployment of {service!r}: keep-alive policy oracle needs "
                                  "every future call: it runs in `vsbench simulate` only; use "
                                  "fixed or histogram on a platform")
        return dep

    def same_replicas(self, other: Deployment) -> bool:
        """Whether running replicas still fit (else an update replaces them)."""
        return (self.image, self.env_process, self.env_vars, self.secrets,
                self.read_only_root_fs, self.policy.starter) == (
                    other.image, other.env_process, other.env_vars, other.secrets,
                    other.read_only_root_fs, other.policy.starter)

    def status(self, replicas: int, available: int, invocations: int,
               usage: dict[str, float] | None = None) -> dict[str, Any]:
        """OpenFaaS's FunctionStatus record for this deployment."""
        limits = dict(self.limits or {})
        limits.setdefault("memory", f"{self.policy.memory_mb}Mi")
        out = {
            "name": self.service, "image": self.image, "namespace": self.namespace,
            "envProcess": self.env_process, "envVars": self.env_vars,
            "constraints": self.constraints, "secrets": self.secrets,
            "labels": self.labels, "annotations": self.annotations,
            "limits": limits, "requests": self.requests,
            "readOnlyRootFilesystem": self.read_only_root_fs,
            "invocationCount": invocations, "replicas": replicas,
            "availableReplicas": available,
            "createdAt": datetime.fromtimestamp(self.created_at, UTC).isoformat()
                                 .replace("+00:00", "Z"),
        }
        if usage is not None:
            out["usage"] = usage
        return out
