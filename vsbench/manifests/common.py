"""What every platform's function objects share: image, labels, probes, runtime env."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from functions.registry import FunctionSpec

from ..errors import VsbError
from ..platform.policy import ScalingPolicy

PORT = 8080  # the runtime's HTTP port in a pod (OpenFaaS's and Knative's default too)
S3_SECRET = "vsbench-s3"  # keys access_key, secret_key, s3.json, seaweedfs-admin-password
S3_SERVICE = "vsbench-s3"
S3_PORT = 8333
S3_BUCKET = "vsbench"
GATEWAY_SECRET = "vsbench-gateway"  # made by the user: keys url, basic-auth (user:password)
GATEWAY_AUTH_DIR = "/var/run/secrets/vsbench-gateway"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Target:
    """Where and how one rendering lands: platform, regime, namespace, image registry."""

    platform: str
    regime: str
    namespace: str
    image_prefix: str  # replaces localhost/vsbench in every image reference
    source: str  # the config file named in each file's header

    def __post_init__(self) -> None:
        if len(self.namespace) > 63 or not _DNS_LABEL.match(self.namespace):
            raise VsbError(f"namespace {self.namespace!r} is not a DNS label (lowercase "
                           "letters, digits and '-', at most 63); pass e.g. --namespace vsbench")

    @property
    def s3_endpoint(self) -> str:
        # the object store is rendered into the functions' own namespace
        return f"http://{S3_SERVICE}:{S3_PORT}"


def function_image(function: str, prefix: str) -> tuple[str, str | None]:
    """The image ``vsbench build --images`` made for ``function`` under ``prefix``, and a
    note when there is no build record here (then the ``:latest`` tag stands in)."""
    from ..images.build import TAG_PREFIX, image_for

    note = None
    try:
        tag = image_for(function)
    except VsbError:
        tag = f"{TAG_PREFIX}/{function}:latest"
        note = (f"{function}: no image build record on this machine, so {tag} stands in; "
                f"run `vsbench build --images {function}` and render again for its "
                "fingerprinted tag")
    if tag.startswith(TAG_PREFIX + "/"):
        tag = prefix.rstrip("/") + tag[len(TAG_PREFIX):]
        if note:
            note = note.replace(f"{TAG_PREFIX}/{function}:latest", tag)
    return tag, note


def labels(function: str, target: Target) -> dict[str, str]:
    return {"app.kubernetes.io/name": function, "app.kubernetes.io/part-of": "vsbench",
            "vsbench.function": function, "vsbench.regime": target.regime}


def runtime_args(function: str) -> list[str]:
    """The runtime (the image's ENTRYPOINT) binds loopback by default: a pod needs all."""
    return ["--function", function, "--host", "0.0.0.0", "--port", str(PORT)]


def readiness_probe() -> dict[str, Any]:
    # /_/ready answers 200 only once the handler's init() (model load) is done; a 1 s period
    # bounds what the probe adds to a cold start.
    return {"httpGet": {"path": "/_/ready", "port": PORT}, "periodSeconds": 1,
            "failureThreshold": 1, "successThreshold": 1, "timeoutSeconds": 1}


def liveness_probe() -> dict[str, Any]:
    return {"httpGet": {"path": "/_/health", "port": PORT}, "periodSeconds": 10,
            "failureThreshold": 3, "timeoutSeconds": 1}


def memory(policy: ScalingPolicy) -> str:
    return f"{policy.memory_mb}Mi"


def duration(seconds: float) -> str:
    """A Go duration (what Kubernetes annotations parse): ``10s``, ``2500ms``."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def plain_env(spec: FunctionSpec, policy: ScalingPolicy, target: Target) -> dict[str, str]:
    """The runtime's environment that holds no secret (functions/runtime/claimcheck.py)."""
    env = {"VSB_MAX_INFLIGHT": str(policy.max_inflight)}
    if spec.storage:
        env.update({"VSB_S3_ENDPOINT": target.s3_endpoint, "VSB_S3_BUCKET": S3_BUCKET,
                    "AWS_DEFAULT_REGION": "us-east-1"})
    return env


def container_env(spec: FunctionSpec, policy: ScalingPolicy,
                  target: Target) -> list[dict[str, Any]]:
    """A container's ``env``: plain values, S3 keys and (orchestrator) the gateway URL from
    Secrets, so no key is written into a Deployment or a Knative Service."""
    env: list[dict[str, Any]] = [{"name": k, "value": v}
                                 for k, v in sorted(plain_env(spec, policy, target).items())]
    if spec.storage:
        env += [_secret_env("AWS_ACCESS_KEY_ID", S3_SECRET, "access_key"),
                _secret_env("AWS_SECRET_ACCESS_KEY", S3_SECRET, "secret_key")]
    if spec.name == "orchestrator":
        env += [_secret_env("VSB_GATEWAY_URL", GATEWAY_SECRET, "url"),
                {"name": "VSB_GATEWAY_AUTH_FILE", "value": f"{GATEWAY_AUTH_DIR}/basic-auth"}]
    return env


def gateway_volume(spec: FunctionSpec) -> tuple[list[dict], list[dict]]:
    """The orchestrator's gateway credentials file (volumes, volumeMounts); optional, since
    only ``/system/*`` needs basic auth and the orchestrator calls ``/function/*``."""
    if spec.name != "orchestrator":
        return [], []
    volume = {"name": "gateway-auth",
              "secret": {"secretName": GATEWAY_SECRET, "optional": True,
                         "items": [{"key": "basic-auth", "path": "basic-auth"}]}}
    mount = {"name": "gateway-auth", "mountPath": GATEWAY_AUTH_DIR, "readOnly": True}
    return [volume], [mount]


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


GATEWAY_NOTE = (f"The orchestrator calls the other functions through an OpenFaaS-style gateway "
                f"(POST <url>/function/<name>): create Secret {GATEWAY_SECRET} with key url "
                "(and basic-auth, user:password, if it needs one) before deploying, e.g. "
                f"kubectl create secret generic {GATEWAY_SECRET} --from-literal=url=http://...")
