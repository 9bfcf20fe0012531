"""The gateway's ``/system/*`` routes: OpenFaaS's management API (a mixin of ``Gateway``).

Status codes are the ones OpenFaaS's gateway API description documents: deploy 202, update
200, remove 200, scale 202, secrets create 201 / update 200 / delete 204, 404 for a function
or secret that does not exist (or whose name none can have), 400 with a reason for any
malformed body (never a 500), 409 for a name that is taken, 422 for log parameters that do
not parse (as faas-provider). Where the description lists no such code, docs/platform.md
says so route by route.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform as _platform
import time
from functools import lru_cache
from typing import Any

from aiohttp import web

from .deployment import DEFAULT_NAMESPACE, Deployment, DeploymentError, function_key, key_of
from .function_logs import entries, parse_since, replica_logs
from .secrets import SecretStore

INT64_MAX = 2**63 - 1
ENV_FOLLOW_S = "VSB_LOGS_FOLLOW_S"  # how long ?follow=true streams (OpenFaaS: its timeout)


def error(status: int, kind: str, message: str, retryable: bool = False,
          headers: dict[str, str] | None = None) -> web.Response:
    """Every error the gateway itself answers: ``{"error": {kind, message, retryable}}``."""
    return web.json_response({"error": {"kind": kind, "message": message,
                                        "retryable": retryable}}, status=status,
                             headers=headers)


def bad(message: str) -> web.Response:
    return error(400, "bad_request", message)


def conflict(message: str) -> web.Response:
    return error(409, "exists", message)


def not_found(message: str) -> web.Response:
    return error(404, "not_found", message)


async def read_json(request: web.Request) -> Any:
    """The request's JSON body; :class:`DeploymentError` when it is not JSON."""
    raw = await request.read()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise DeploymentError(f"the body is not JSON: {exc}") from None


@lru_cache(maxsize=1)
def version_info() -> dict[str, str]:
    from importlib import metadata

    from ..provenance import git_state

    try:
        release = metadata.version("vsbench")
    except metadata.PackageNotFoundError:
        release = "0.0.0"
    commit = git_state().get("commit") or ""
    return {"release": release, "sha": commit, "commit_message": ""}


class SystemRoutes:
    """Needs ``pools``, ``deployments``, ``namespaces``, ``secrets``, ``provider``, ``logs``,
    ``make_factory`` and ``make_pool`` from the gateway."""

    secrets: SecretStore

    def add_system_routes(self, r: web.UrlDispatcher) -> None:
        r.add_get("/system/functions", self.list_functions)
        r.add_post("/system/functions", self.deploy)
        r.add_put("/system/functions", self.update)
        r.add_delete("/system/functions", self.remove)
        r.add_get("/system/function/{name}", self.get_function)
        r.add_post("/system/scale-function/{name}", self.scale_function)
        r.add_get("/system/namespaces", self.list_namespaces)
        r.add_get("/system/info", self.info)
        r.add_get("/system/secrets", self.list_secrets)
        r.add_post("/system/secrets", self.create_secret)
        r.add_put("/system/secrets", self.update_secret)
        r.add_delete("/system/secrets", self.delete_secret)
        r.add_get("/system/logs", self.function_logs)
        r.add_post("/system/alert", self.alert)

    # --- records -------------------------------------------------------------------------
    def status_of(self, key: str) -> dict[str, Any]:
        dep, pool = self.deployments[key], self.pools[key]
        rss = sum(getattr(s, "last_rss_mb", 0.0) or 0.0 for s in pool.live())
        out = dep.status(len(pool.live()), len(pool.ready()), pool.invocations,
                         usage={"totalMemoryBytes": round(rss * 2**20)} if rss else None)
        out["vsbench"] = pool.describe()["vsbench"]
        return out

    async def list_functions(self, request: web.Request) -> web.Response:
        ns = request.query.get("namespace")
        return web.json_response([self.status_of(k) for k, d in self.deployments.items()
                                  if k in self.pools and (not ns or d.namespace == ns)])

    async def get_function(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        key = function_key(name, request.query.get("namespace") or DEFAULT_NAMESPACE)
        if key not in self.pools:
            return not_found(f"function {name} not found")
        return web.json_response(self.status_of(key))

    async def list_namespaces(self, request: web.Request) -> web.Response:
        return web.json_response(sorted(self.namespaces))

    async def info(self, request: web.Request) -> web.Response:
        version = version_info()
        return web.json_response({
            "provider": {"provider": "vsbench", "orchestration": self.provider.name,
                         "version": {"release": version["release"], "sha": version["sha"]}},
            "version": version, "arch": _platform.machine()})

    # --- deploy, update, remove -----------------------------------------------------------
    def _parse(self, body: Any) -> Deployment:
        dep = Deployment.parse(body)
        if dep.namespace != DEFAULT_NAMESPACE and not getattr(self.provider, "namespaces",
                                                                 False):
            raise DeploymentError(f"the {self.provider.name} host runs functions in "
                                  f"{DEFAULT_NAMESPACE} only, not {dep.namespace}")
        return dep

    async def deploy(self, request: web.Request) -> web.Response:
        try:
            dep = self._parse(await read_json(request))
        except DeploymentError as exc:
            return bad(f"deploy: {exc}")
        if dep.key in self.deployments:
            return conflict(f"function {dep.service} already exists in {dep.namespace}; "
                            "update it with PUT /system/functions")
        self.deployments[dep.key] = dep  # claims the name while the provider works
        try:  # off the event loop: a provider may import an image or call a cluster API
            factory = await asyncio.to_thread(self.make_factory, dep)
        except Exception as exc:  # noqa: BLE001 - the deployer can act on the reason
            self.deployments.pop(dep.key, None)
            return bad(f"deploy {dep.service}: {exc}")
        self.namespaces.add(dep.namespace)
        self.pools[dep.key] = self.make_pool(dep, factory)
        self.pools[dep.key].reconcile()  # min_replicas start now
        return web.Response(status=202, text=f"deployed {dep.service}")

    async def update(self, request: web.Request) -> web.Response:
        body = None
        try:
            body = await read_json(request)
            dep = self._parse(body)
        except DeploymentError as exc:
            # A name no deployed function has (whatever else is wrong): not found.
            service = body.get("service") if isinstance(body, dict) else None
            ns = (body.get("namespace") or DEFAULT_NAMESPACE) if isinstance(body, dict) else 0
            if (isinstance(service, str) and isinstance(ns, str)
                    and function_key(service, ns) not in self.deployments):
                return not_found(f"function {service!r} not found in {ns}")
            return bad(f"update: {exc}")
        old, pool = self.deployments.get(dep.key), self.pools.get(dep.key)
        if old is None or pool is None:
            return not_found(f"function {dep.service} not found in {dep.namespace}; "
                             "deploy it with POST /system/functions")
        factory = None
        if not dep.same_replicas(old):
            try:
                factory = await asyncio.to_thread(self.make_factory, dep)
            except Exception as exc:  # noqa: BLE001
                return bad(f"update {dep.service}: {exc}")
        dep.created_at = old.created_at
        self.deployments[dep.key] = dep
        pool.policy = dep.policy
        pool.labels = dep.labels
        if factory is not None:
            old_factory, pool.factory = pool.factory, factory
            pool.image = dep.image
            pool.replace_all()
            # Replicas forked from an old template go on serving without it.
            await pool.retire_factory(old_factory, "replaced")
        else:
            pool.reconcile()
        return web.Response(status=200, text=f"updated {dep.service}")

    async def remove(self, request: web.Request) -> web.Response:
        try:
            body = await read_json(request)
            if not isinstance(body, dict):
                raise DeploymentError('the body must be {"functionName": NAME}')
            name, ns = body.get("functionName"), body.get("namespace")
            if not isinstance(name, str):
                raise DeploymentError("'functionName' (a string) is required")
            if "namespace" in body and not isinstance(ns, str):
                raise DeploymentError("'namespace' must be a string")
            ns = ns or request.query.get("namespace") or DEFAULT_NAMESPACE
        except DeploymentError as exc:
            return bad(f"remove: {exc}")
        key = function_key(name, ns)  # a name no function can have is simply not found
        pool = self.pools.pop(key, None)
        if pool is None:  # (also while its deploy is still under way: that one stands)
            return not_found(f"function {name} not found in {ns}")
        self.deployments.pop(key, None)
        await pool.close()
        return web.Response(status=200, text=f"removed {name}")

    async def scale_function(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            body = await read_json(request)
            if not isinstance(body, dict):
                raise DeploymentError("the body must be a ScaleServiceRequest: "
                                      '{"serviceName": NAME, "namespace": NS, "replicas": N}')
            replicas = body.get("replicas")
            if (not isinstance(replicas, int) or isinstance(replicas, bool)
                    or not 0 <= replicas <= INT64_MAX):
                raise DeploymentError(f"'replicas' must be an integer from 0 to 2^63-1, got "
                                      f"{replicas!r}")
            service = body.get("serviceName")
            if not isinstance(service, str):
                raise DeploymentError("'serviceName' (a string) is required")
            # OpenFaaS's Go types leave an empty namespace out (omitempty): the default then.
            if not isinstance(body.get("namespace", ""), str):
                raise DeploymentError("'namespace' must be a string")
            ns = body.get("namespace") or request.query.get("namespace") or DEFAULT_NAMESPACE
        except DeploymentError as exc:
            return bad(f"scale {name}: {exc}")
        key = function_key(name, ns)
        pool = self.pools.get(key)
        if pool is None:
            return not_found(f"function {name} not found in {ns}")
        applied = await pool.scale_to(min(replicas, pool.policy.max_replicas))
        return web.json_response({"function": name, "namespace": ns, "requested": replicas,
                                  "replicas": applied}, status=202)

    async def alert(self, request: web.Request) -> web.Response:
        """AlertManager's webhook, as OpenFaaS CE scales on it: a firing alert adds 20 % of
        the function's maximum (at least one replica), a resolved one goes back to the
        minimum. The embedded gateway scales itself; this route is for OpenFaaS parity."""
        try:
            if not await request.read():  # the description makes the body optional
                return web.Response(status=200)
            body = await read_json(request)
            if not isinstance(body, dict) or not isinstance(body.get("alerts"), list) or not (
                    isinstance(body.get("status"), str)
                    and isinstance(body.get("receiver"), str)):
                raise DeploymentError("the body must be an AlertManager alert: 'status', "
                                      "'receiver' and 'alerts'")
            todo = []
            for alert in body["alerts"]:
                labels = alert.get("labels") if isinstance(alert, dict) else None
                if not (isinstance(labels, dict) and isinstance(alert.get("status"), str)
                        and isinstance(labels.get("function_name"), str)
                        and isinstance(labels.get("alertname"), str)):
                    raise DeploymentError("each alert needs a 'status' and "
                                          "'labels.alertname' and 'labels.function_name'")
                todo.append((alert["status"], labels["function_name"]))
        except DeploymentError as exc:
            return bad(f"alert: {exc}")
        for status, name in todo:
            pool = self.pools.get(key_of(name))
            if pool is None:
                continue
            if status == "firing":
                step = max(1, pool.policy.max_replicas // 5)
                await pool.scale_to(len(pool.live()) + step, reason="alert")
            elif status == "resolved":
                await pool.scale_to(pool.policy.min_replicas, reason="alert")
        return web.Response(status=200)

    # --- secrets --------------------------------------------------------------------------
    async def list_secrets(self, request: web.Request) -> web.Response:
        return web.json_response(self.secrets.list(request.query.get("namespace")))

    async def _secret(self, request: web.Request):
        return SecretStore.parse(await read_json(request))

    async def create_secret(self, request: web.Request) -> web.Response:
        try:
            name, ns, data = await self._secret(request)
        except DeploymentError as exc:
            return bad(f"create secret: {exc}")
        if self.secrets.exists(name, ns):
            return conflict(f"secret {name} already exists in {ns}; update it with PUT")
        try:
            self.secrets.write(name, ns, data)
        except DeploymentError as exc:
            return bad(f"create secret: {exc}")
        return web.Response(status=201)

    async def update_secret(self, request: web.Request) -> web.Response:
        try:
            name, ns, data = await self._secret(request)
        except DeploymentError as exc:
            return bad(f"update secret: {exc}")
        if not self.secrets.exists(name, ns):
            return not_found(f"secret {name} not found in {ns}")
        self.secrets.write(name, ns, data)
        return web.Response(status=200)

    async def delete_secret(self, request: web.Request) -> web.Response:
        try:
            name, ns, _ = await self._secret(request)
        except DeploymentError as exc:
            return bad(f"delete secret: {exc}")
        if not self.secrets.delete(name, ns):
            return not_found(f"secret {name} not found in {ns}")
        return web.Response(status=204)

    # --- logs -----------------------------------------------------------------------------
    async def function_logs(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        name, ns = q.get("name") or "", q.get("namespace") or DEFAULT_NAMESPACE
        key = function_key(name, ns)
        if key not in self.pools:
            return not_found(f"function {name!r} not found in {ns}")
        try:  # as faas-provider's log handler: 422 when tail or since do not parse
            tail = int(q.get("tail") or 0)
            since = parse_since(q.get("since"))
        except ValueError as exc:
            return error(422, "bad_request", f"logs: {exc}")
        follow = (q.get("follow") or "").lower() in ("true", "1", "t")
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        if hasattr(self.provider, "pod_logs"):  # Kubernetes: the pods' logs, a snapshot
            lines = await asyncio.to_thread(
                self.provider.pod_logs, [s.replica for s in self.pools[key].live()],
                q.get("instance") or None, tail, since)
            await resp.prepare(request)
            for pod, ts, text in lines:
                await resp.write((json.dumps({"name": name, "namespace": ns, "instance": pod,
                                              "timestamp": ts, "text": text}) + "\n").encode())
            await resp.write_eof()
            return resp
        log_dir = getattr(self.provider, "log_dir", None)
        files = replica_logs(log_dir, key, q.get("instance") or None)
        await resp.prepare(request)
        offsets: dict = {}
        for entry in entries(files, name, ns, since, tail, offsets):
            await resp.write((json.dumps(entry) + "\n").encode())
        if follow:
            deadline = time.monotonic() + float(os.environ.get(ENV_FOLLOW_S, "60"))
            while time.monotonic() < deadline and key in self.pools:
                await asyncio.sleep(0.25)
                files = replica_logs(log_dir, key, q.get("instance") or None)
                for entry in entries(files, name, ns, None, 0, offsets):
                    await resp.write((json.dumps(entry) + "\n").encode())
        await resp.write_eof()
        return resp
