"""Knative Serving: one ``serving.knative.dev/v1`` Service per function, scaled by the KPA."""

from __future__ import annotations

from typing import Any

from functions.registry import ALL_FUNCTIONS

from ..errors import VsbError
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

AUTOSCALING = "autoscaling.knative.dev"
RETENTION_MAX_S = 3600  # Knative rejects a scale-to-zero retention period over 1h
TIMEOUT_MAX_S = 600  # Knative's default max-revision-timeout-seconds


def scaling_annotations(policy: ScalingPolicy, regime: str) -> dict[str, str]:
    """The policy as KPA annotations. Never scaling to zero (idle_timeout_s null) needs
    min-scale >= 1; max-scale 0 would mean unbounded, which max_replicas (>= 1) never is."""
    ann = {
        f"{AUTOSCALING}/class": "kpa.autoscaling.knative.dev",
        f"{AUTOSCALING}/metric": "concurrency",
        f"{AUTOSCALING}/target": str(policy.target_inflight),
        # Knative aims at 70% of target by default; the policy's target is the aim itself
        f"{AUTOSCALING}/target-utilization-percentage": "100",
        f"{AUTOSCALING}/max-scale": str(policy.max_replicas),
    }
    if policy.idle_timeout_s is None:
        ann[f"{AUTOSCALING}/min-scale"] = str(max(1, policy.min_replicas))
    else:
        if policy.idle_timeout_s > RETENTION_MAX_S:
            raise VsbError(f"regime {regime!r}: idle_timeout_s {policy.idle_timeout_s:g} is "
                           f"over Knative's longest scale-to-zero retention ({RETENTION_MAX_S}"
                           " s); use null (never) or a shorter timeout")
        ann[f"{AUTOSCALING}/min-scale"] = str(policy.min_replicas)
        ann[f"{AUTOSCALING}/scale-to-zero-pod-retention-period"] = duration(
            policy.idle_timeout_s)
    return dict(sorted(ann.items()))


def knative_service(function: str, policy: ScalingPolicy, image: str,
                    target: Target) -> dict[str, Any]:
    spec = ALL_FUNCTIONS[function]
    volumes, mounts = gateway_volume(spec)
    container = {
        "name": "function",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": runtime_args(function),  # Knative sets PORT=8080 too; --port says it anyway
        "env": container_env(spec, policy, target),
        "ports": [{"name": "http1", "containerPort": PORT}],
        "readinessProbe": readiness_probe(),
        "livenessProbe": liveness_probe(),
        "resources": {"requests": {"memory": memory(policy)},
                      "limits": {"memory": memory(policy)}},
    }
    if mounts:
        container["volumeMounts"] = mounts
    template_spec: dict[str, Any] = {
        # the hard per-replica limit (the runtime answers 429 beyond it as well)
        "containerConcurrency": policy.max_inflight,
        "timeoutSeconds": int(min(spec.timeout_s, TIMEOUT_MAX_S)),
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "containers": [container],
    }
    if volumes:
        template_spec["volumes"] = volumes
    lab = labels(function, target)
    return {
        "apiVersion": "serving.knative.dev/v1", "kind": "Service",
        "metadata": {"name": function, "namespace": target.namespace, "labels": lab},
        "spec": {"template": {
            "metadata": {"labels": lab,
                         "annotations": scaling_annotations(policy, target.regime)},
            "spec": template_spec,
        }},
    }


def knative_services(policies: dict[str, ScalingPolicy], images: dict[str, str],
                     target: Target) -> list[dict[str, Any]]:
    return [knative_service(fn, policy, images[fn], target) for fn, policy in policies.items()]


NOTES = [
    "scale-to-zero-pod-retention-period is idle_timeout_s, but the KPA removes the last "
    "replica only once its stable window (60 s by default) has seen no request as well, so "
    "a replica idles at least max(window, retention). A regime that never scales to zero "
    "(idle_timeout_s null) gets min-scale >= 1.",
    "containerConcurrency is max_inflight (the hard limit); autoscaling target is "
    "target_inflight at 100% utilisation. timeoutSeconds is the function's timeout, at most "
    f"{TIMEOUT_MAX_S} s (Knative's default max-revision-timeout-seconds).",
    "Local images (localhost/...) cannot be resolved to digests: add localhost to "
    "registries-skipping-tag-resolving in the knative-serving config-deployment ConfigMap.",
    GATEWAY_NOTE,
]
