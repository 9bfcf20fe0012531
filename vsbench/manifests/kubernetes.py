"""Plain Kubernetes: a Deployment and a ClusterIP Service per function."""

from __future__ import annotations

from typing import Any

from functions.registry import ALL_FUNCTIONS

from ..platform.policy import ScalingPolicy
from .common import (
    GATEWAY_NOTE,
    PORT,
    Target,
    container_env,
    duration,
    gateway_volume,
    labels,
    liveness_probe,
    memory,
    readiness_probe,
    runtime_args,
)


def policy_annotations(policy: ScalingPolicy) -> dict[str, str]:
    """The policy as annotations: plain Kubernetes has no scaler that could act on them."""
    idle = "never" if policy.idle_timeout_s is None else duration(policy.idle_timeout_s)
    return {
        "vsbench.min-replicas": str(policy.min_replicas),
        "vsbench.max-replicas": str(policy.max_replicas),
        "vsbench.target-inflight": str(policy.target_inflight),
        "vsbench.max-inflight": str(policy.max_inflight),
        "vsbench.idle-timeout": idle,
        "vsbench.queue-timeout": duration(policy.queue_timeout_s),
    }


def deployment(function: str, policy: ScalingPolicy, image: str,
               target: Target) -> dict[str, Any]:
    spec = ALL_FUNCTIONS[function]
    lab = labels(function, target)
    volumes, mounts = gateway_volume(spec)
    container = {
        "name": "function",
        "image": image,
        "imagePullPolicy": "IfNotPresent",  # images are built locally, never pulled
        "args": runtime_args(function),
        "env": container_env(spec, policy, target),
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": readiness_probe(),
        "livenessProbe": liveness_probe(),
        "resources": {"requests": {"memory": memory(policy)},
                      "limits": {"memory": memory(policy)}},
    }
    if mounts:
        container["volumeMounts"] = mounts
    pod: dict[str, Any] = {"enableServiceLinks": False, "automountServiceAccountToken": False,
                           "containers": [container]}
    if volumes:
        pod["volumes"] = volumes
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": function, "namespace": target.namespace, "labels": lab,
                     "annotations": policy_annotations(policy)},
        "spec": {
            "replicas": policy.min_replicas,
            "selector": {"matchLabels": {"vsbench.function": function}},
            "template": {"metadata": {"labels": lab}, "spec": pod},
        },
    }


def service(function: str, target: Target) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": function, "namespace": target.namespace,
                     "labels": labels(function, target)},
        "spec": {"type": "ClusterIP", "selector": {"vsbench.function": function},
                 "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]},
    }


def kubernetes_functions(policies: dict[str, ScalingPolicy], images: dict[str, str],
                         target: Target) -> list[dict[str, Any]]:
    """Deployment and Service of every function, in pipeline order."""
    out: list[dict[str, Any]] = []
    for function, policy in policies.items():
        out += [deployment(function, policy, images[function], target),
                service(function, target)]
    return out


NOTES = [
    "Plain Kubernetes has no request-driven scaler: each Deployment starts min_replicas "
    "replicas (none under a scale-to-zero regime, so nothing serves until you scale it) and "
    "never scales by itself; max_replicas, in-flight targets and the idle timeout are only "
    "recorded as vsbench.* annotations.",
    GATEWAY_NOTE,
]
