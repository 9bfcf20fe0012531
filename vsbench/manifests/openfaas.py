"""OpenFaaS: ``Function`` custom resources (faas-netes' CRD, openfaas.com/v1) and the same
functions as a faas-cli ``stack.yml``."""

from __future__ import annotations

from typing import Any

from functions.registry import ALL_FUNCTIONS

from ..platform.policy import LABEL_MIN, LABEL_QUEUE_TIMEOUT, LABEL_ZERO_DURATION, ScalingPolicy
from .common import PORT, S3_SECRET, Target, duration, labels, memory, plain_env

DEFAULT_NAMESPACE = "openfaas-fn"
GATEWAY = "http://gateway.openfaas:8080"  # the chart's gateway Service, seen from functions
# OpenFaaS Pro's custom probe paths; CE probes /_/health, which the runtime answers while
# its handler is still loading (so CE may route a request to a replica not yet ready).
PROBE_ANNOTATIONS = {"com.openfaas.ready.http.path": "/_/ready",
                     "com.openfaas.health.http.path": "/_/health"}


def _function(function: str, policy: ScalingPolicy, image: str,
              target: Target) -> dict[str, Any]:
    """The fields a Function CR and a stack.yml entry share, from the policy's wire format
    (the embedded gateway reads the same labels)."""
    spec = ALL_FUNCTIONS[function]
    env = {**plain_env(spec, policy, target), "PORT": str(PORT), "VSB_LISTEN_HOST": "0.0.0.0",
           "VSB_S3_SECRETS_DIR": "/var/openfaas/secrets"}
    if function == "orchestrator":
        env["VSB_GATEWAY_URL"] = GATEWAY  # /function/* needs no basic auth in OpenFaaS
    wire = policy.to_deployment(function, image, env=env)
    lab = {**wire["labels"], **labels(function, target)}
    # scale.min is how many replicas a scale from zero starts (the gateway treats 0 as 1):
    # going to zero is scale.zero's job.
    lab[LABEL_MIN] = str(max(1, policy.min_replicas))
    lab[LABEL_QUEUE_TIMEOUT] = duration(policy.queue_timeout_s)
    if policy.idle_timeout_s is not None:
        lab[LABEL_ZERO_DURATION] = duration(policy.idle_timeout_s)
    return {
        "image": image,
        "labels": dict(sorted(lab.items())),
        "annotations": dict(PROBE_ANNOTATIONS),
        "environment": dict(sorted(wire["envVars"].items())),
        "limits": {"memory": memory(policy)},
        "requests": {"memory": memory(policy)},
        "secrets": [S3_SECRET] if spec.storage else [],
    }


def openfaas_functions(policies: dict[str, ScalingPolicy], images: dict[str, str],
                       target: Target) -> list[dict[str, Any]]:
    """One ``Function`` resource per function (faas-netes' operator mode)."""
    out = []
    for function, policy in policies.items():
        fields = _function(function, policy, images[function], target)
        spec = {"name": function, **fields,
                # the image's numba cache is written to on a miss
                "readOnlyRootFilesystem": False}
        if not spec["secrets"]:
            del spec["secrets"]
        out.append({"apiVersion": "openfaas.com/v1", "kind": "Function",
                    "metadata": {"name": function, "namespace": target.namespace},
                    "spec": spec})
    return out


def openfaas_stack(policies: dict[str, ScalingPolicy], images: dict[str, str],
                   target: Target) -> dict[str, Any]:
    """The faas-cli stack file (``faas-cli deploy -f stack.yml``); images are prebuilt."""
    functions = {}
    for function, policy in policies.items():
        fields = _function(function, policy, images[function], target)
        if not fields["secrets"]:
            del fields["secrets"]
        functions[function] = {**fields, "skip_build": True, "namespace": target.namespace}
    return {"version": "1.0",
            "provider": {"name": "openfaas", "gateway": "${OPENFAAS_URL:-http://127.0.0.1:8080}"},
            "functions": functions}


NOTES = [
    "OpenFaaS Community Edition ignores com.openfaas.scale.zero / zero-duration and the "
    "com.openfaas.ready.http.path annotation (OpenFaaS Pro features): under CE functions "
    "never scale to zero and readiness is /_/health.",
    "com.openfaas.scale.min is at least 1 (replicas started on a scale from zero); a regime "
    "with min_replicas 0 is expressed by com.openfaas.scale.zero=true.",
    f"Secret {S3_SECRET} is mounted as files under /var/openfaas/secrets/ (OpenFaaS puts "
    "secrets there, never in the environment); the runtime reads its S3 keys from there "
    "(VSB_S3_SECRETS_DIR) and listens on VSB_LISTEN_HOST:PORT, since a Function passes no "
    "arguments.",
    "Local images (localhost/...) need the chart's functions.imagePullPolicy=IfNotPresent.",
]
