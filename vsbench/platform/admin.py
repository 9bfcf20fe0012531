"""A client for the gateway's ``/system`` API (the embedded gateway or a real OpenFaaS one)."""

from __future__ import annotations

import time
from typing import Any

import requests

from ..errors import VsbError
from .deployment import DEFAULT_NAMESPACE
from .policy import ScalingPolicy

DEPLOY_TIMEOUT_S = 900.0
START_FAILURES = 3  # replicas failing to start in a row before waiting gives up


class GatewayAdmin:
    def __init__(self, url: str, auth: tuple[str, str] | None = None, timeout_s: float = 30.0):
        self.url = url.rstrip("/")
        self.auth = auth
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def _req(self, method: str, path: str, timeout_s: float | None = None,
             **kw: Any) -> requests.Response:
        try:
            resp = self.session.request(method, self.url + path, auth=self.auth,
                                        timeout=timeout_s or self.timeout_s, **kw)
        except requests.RequestException as exc:
            raise VsbError(f"gateway {self.url} did not answer {method} {path}: {exc}") from None
        if resp.status_code == 401:
            raise VsbError(f"gateway {self.url} refused the credentials (401); check the "
                           "basic-auth file or VSB_GATEWAY_USER/VSB_GATEWAY_PASSWORD")
        return resp

    def _ok(self, resp: requests.Response, what: str) -> requests.Response:
        if resp.status_code >= 400:
            raise VsbError(f"{what}: HTTP {resp.status_code}: {resp.text.strip()[:300]}")
        return resp

    def healthy(self) -> bool:
        try:
            return self.session.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def post_fault(self, body: dict[str, Any]) -> requests.Response:
        """``POST /system/faults`` (:mod:`.faults`); the caller reads the status."""
        return self._req("POST", "/system/faults", json=body)

    def functions(self) -> list[dict[str, Any]]:
        return self._ok(self._req("GET", "/system/functions"), "list functions").json()

    def function(self, name: str) -> dict[str, Any]:
        return self._ok(self._req("GET", f"/system/function/{name}"), f"get {name}").json()

    def deploy(self, name: str, policy: ScalingPolicy, image: str,
               env: dict[str, str] | None = None) -> str:
        """Update, or deploy when it does not exist (as faas-cli does: PUT, then POST on a
        404). Returns "deployed" or "updated"."""
        body = policy.to_deployment(name, image, env)
        # A deploy may import the function's image into a cluster first (hundreds of MB).
        slow = max(self.timeout_s, DEPLOY_TIMEOUT_S)
        resp = self._req("PUT", "/system/functions", json=body, timeout_s=slow)
        if resp.status_code != 404:
            self._ok(resp, f"update {name}")
            return "updated"
        self._ok(self._req("POST", "/system/functions", json=body, timeout_s=slow),
                 f"deploy {name}")
        return "deployed"

    def remove(self, name: str, namespace: str = DEFAULT_NAMESPACE) -> None:
        self._ok(self._req("DELETE", "/system/functions",
                           json={"functionName": name, "namespace": namespace}),
                 f"remove {name}")

    def scale(self, name: str, replicas: int,
              namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
        resp = self._ok(self._req("POST", f"/system/scale-function/{name}",
                                  json={"serviceName": name, "namespace": namespace,
                                        "replicas": replicas}), f"scale {name}")
        return resp.json() if resp.content else {}

    def wait_available(self, names: list[str], timeout_s: float = 180.0) -> None:
        """Wait until each function has all its replicas ready (``availableReplicas``)."""
        deadline = time.monotonic() + timeout_s
        pending = set(names)
        while pending:
            for fn in self.functions():
                ext = fn.get("vsbench") or {}
                if fn["name"] in pending and ext.get("start_failures", 0) >= START_FAILURES:
                    raise VsbError(f"{fn['name']}: {ext['start_failures']} replicas failed to "
                                   f"start; the last: {ext.get('last_start_error')}")
                # OpenFaaS's default minimum is 1; the embedded gateway states the policy
                need = (ext.get("policy") or {}).get("min_replicas", int(
                    (fn.get("labels") or {}).get("com.openfaas.scale.min", 1)))
                if (fn["name"] in pending and fn["availableReplicas"] >= fn["replicas"]
                        and fn["availableReplicas"] >= need):
                    pending.discard(fn["name"])
            if not pending:
                return
            if time.monotonic() > deadline:
                raise VsbError(f"functions not ready after {timeout_s:.0f} s: "
                               f"{', '.join(sorted(pending))}; see the platform's replica logs")
            time.sleep(0.05)
