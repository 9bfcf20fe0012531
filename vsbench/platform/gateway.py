"""The embedded gateway: the subset of OpenFaaS's gateway API that clients use.

``POST /function/{name}`` (sync invoke; body and headers pass through), ``GET
/system/functions``, ``GET /system/function/{name}``, ``POST|PUT|DELETE /system/functions``
(deploy, update, remove; OpenFaaS deployment bodies with scaling labels),
``POST /system/scale-function/{name}`` with ``{"replicas": n}``, ``GET /healthz`` and
``GET /metrics``. As in OpenFaaS, ``/system/*`` needs basic auth; invoke routes do not.

Answers to invocations carry ``X-Vsb-Replica``, ``X-Vsb-Queue-Ms``, ``X-Vsb-Cold`` and
OpenFaaS's ``X-Duration-Seconds``, so clients can attribute latency and cold starts.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

from functions.registry import ALL_FUNCTIONS

from ..errors import VsbError
from .auth import BasicAuth
from .events import PlatformLogs
from .metrics import GatewayMetrics
from .policy import ENV_MAX_INFLIGHT, PolicyError, ScalingPolicy
from .scaling import PoolError, ScalingPool

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
               "content-encoding", "authorization"}
RECONCILE_S = 0.1
MEMORY_EVERY = 5  # sample replica RSS every 5th tick (0.5 s): psutil walks are not free


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it roughly halves the gateway's per-request cost), else asyncio."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def _error(status: int, kind: str, message: str, retryable: bool = False) -> web.Response:
    return web.json_response({"error": {"kind": kind, "message": message,
                                        "retryable": retryable}}, status=status)


class Gateway:
    def __init__(self, provider, logs: PlatformLogs | None = None,
                 auth: BasicAuth | None = None, host: str = "127.0.0.1", port: int = 0,
                 enforce_memory: bool = True):
        self.provider = provider
        self.logs = logs or PlatformLogs(None)
        self.auth = auth
        self.host = host
        self.port = port
        self.enforce_memory = enforce_memory
        self.pools: dict[str, ScalingPool] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.metrics = GatewayMetrics()
        self._timeouts: dict[str, aiohttp.ClientTimeout] = {}
        # Call ids join the gateway's log with the replicas' telemetry (unique per gateway).
        self._call_prefix = f"c{int(time.time()):x}-"
        self._call_seq = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._reconciler: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- application ---------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 22, middlewares=[self._auth_middleware])
        r = app.router
        r.add_post("/function/{name}", self.invoke)
        r.add_post("/function/{name}/{tail:.*}", self.invoke)
        r.add_get("/system/functions", self.list_functions)
        r.add_post("/system/functions", self.deploy)
        r.add_put("/system/functions", self.update)
        r.add_delete("/system/functions", self.remove)
        r.add_get("/system/function/{name}", self.get_function)
        r.add_post("/system/scale-function/{name}", self.scale_function)
        r.add_get("/healthz", self.healthz)
        r.add_get("/metrics", self.prometheus)
        return app

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler):
        if self.auth is not None and request.path.startswith("/system/"):
            if not self.auth.check(request.headers.get("Authorization")):
                return web.json_response(
                    {"error": {"kind": "unauthorized",
                               "message": "basic auth required for /system/ routes"}},
                    status=401, headers={"WWW-Authenticate": 'Basic realm="vsbench"'})
        return await handler(request)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(self.pools),
                            content_type="text/plain", charset="utf-8")

    # --- invoke ---------------------------------------------------------------------------
    async def invoke(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        pool = self.pools.get(name)
        if pool is None:
            return _error(404, "not_found", f"function {name} is not deployed")
        body = await request.read()
        t0 = time.perf_counter()
        ts = time.time()
        try:
            lease = await pool.acquire()
        except PoolError as exc:
            self._observe(name, exc.status, t0, 0.0, False, None, ts, request, str(exc), None)
            return _error(exc.status, "queue_timeout" if exc.status == 504 else "unavailable",
                          str(exc), retryable=True)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        call_id = f"{self._call_prefix}{next(self._call_seq)}"
        headers["X-Vsb-Call-Id"] = call_id
        timeout = self._timeouts.get(name) or self._timeouts.setdefault(
            name, aiohttp.ClientTimeout(total=ALL_FUNCTIONS[name].timeout_s))
        rep = lease.replica
        try:
            async with self._session.post(f"{rep.url}/", data=body, headers=headers,
                                          timeout=timeout) as resp:
                data = await resp.read()
                out_headers = {k: v for k, v in resp.headers.items()
                               if k.lower() not in HOP_HEADERS}
                status = resp.status
        except TimeoutError:
            pool.release(lease)
            self._observe(name, 504, t0, lease.queue_ms / 1000, lease.cold, rep.replica_id,
                          ts, request, "upstream timeout", call_id)
            return _error(504, "timeout", f"replica {rep.replica_id} of {name} did not answer "
                          f"within {timeout.total:g} s")
        except (aiohttp.ClientError, ConnectionError) as exc:
            pool.release(lease)
            for _ in range(10):  # the socket closes a moment before the process is reaped
                if not rep.alive():
                    break
                await asyncio.sleep(0.02)
            pool.reconcile()  # notice the dead replica now, not on the next tick
            msg = (f"replica {rep.replica_id} of {name} failed mid-request "
                   f"({type(exc).__name__}: {exc})"
                   + (f"; the replica {rep.host} died" if not rep.alive() else ""))
            self._observe(name, 502, t0, lease.queue_ms / 1000, lease.cold, rep.replica_id,
                          ts, request, msg, call_id)
            return _error(502, "replica_failed", msg, retryable=True)
        pool.release(lease)
        seconds = time.perf_counter() - t0
        self._observe(name, status, t0, lease.queue_ms / 1000, lease.cold, rep.replica_id, ts,
                      request, None, call_id)
        out_headers.update({
            "X-Vsb-Replica": rep.replica_id,
            "X-Vsb-Call-Id": call_id,
            "X-Vsb-Queue-Ms": f"{lease.queue_ms:.3f}",
            "X-Vsb-Cold": "1" if lease.cold else "0",
            "X-Duration-Seconds": f"{seconds:.6f}",
        })
        return web.Response(body=data, status=status, headers=out_headers)

    def _observe(self, name: str, status: int, t0: float, queue_s: float, cold: bool,
                 replica: str | None, ts: float, request: web.Request, error: str | None,
                 call_id: str | None):
        seconds = time.perf_counter() - t0
        self.metrics.observe(name, status, seconds, queue_s, cold)
        self.logs.invocations.write({
            "ts": ts, "call_id": call_id, "function": name, "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "queue_ms": round(queue_s * 1000, 3), "cold": cold, "replica_id": replica,
            "request_id": request.headers.get("X-Vsb-Request-Id"), "error": error})

    # --- system API ----------------------------------------------------------------------
    async def list_functions(self, request: web.Request) -> web.Response:
        return web.json_response([p.describe() for p in self.pools.values()])

    async def get_function(self, request: web.Request) -> web.Response:
        pool = self.pools.get(request.match_info["name"])
        if pool is None:
            return _error(404, "not_found", f"function {request.match_info['name']} not found")
        return web.json_response(pool.describe())

    async def _deployment(self, request: web.Request) -> tuple[dict, ScalingPolicy]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"deployment body is not JSON: {exc}") from None
        if not isinstance(body, dict) or not body.get("service"):
            raise web.HTTPBadRequest(text="deployment needs a 'service' name")
        if body["service"] not in ALL_FUNCTIONS:
            raise web.HTTPBadRequest(text=f"unknown function {body['service']!r}; known: "
                                          f"{', '.join(ALL_FUNCTIONS)}")
        try:
            policy = ScalingPolicy.from_deployment(body)
        except PolicyError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        return body, policy

    def _factory(self, body: dict, policy: ScalingPolicy):
        env = {k: str(v) for k, v in (body.get("envVars") or {}).items()}
        env["VSB_MAX_INFLIGHT"] = str(policy.max_inflight)  # the runtime enforces it too
        try:
            return self.provider.factory(body["service"], env, body.get("image") or "",
                                         policy=policy)
        except VsbError as exc:  # e.g. no image for it: the deployer can act on that
            raise web.HTTPBadRequest(text=str(exc)) from None

    def _make_pool(self, body: dict, policy: ScalingPolicy, factory) -> ScalingPool:
        # Where the kernel enforces the limit (containers), the RSS watchdog stays out of it.
        watchdog = self.enforce_memory and not getattr(self.provider, "enforces_memory", False)
        return ScalingPool(body["service"], policy, factory, self.logs,
                           image=body.get("image", ""), labels=body.get("labels") or {},
                           enforce_memory=watchdog)

    async def deploy(self, request: web.Request) -> web.Response:
        body, policy = await self._deployment(request)
        name = body["service"]
        if name in self.pools:
            return _error(409, "exists", f"function {name} already exists; PUT to update")
        # Off the event loop: a provider may import an image or call a cluster API.
        factory = await asyncio.to_thread(self._factory, body, policy)
        if name in self.pools:
            return _error(409, "exists", f"function {name} already exists; PUT to update")
        self.deployments[name] = body
        self.pools[name] = self._make_pool(body, policy, factory)
        self.pools[name].reconcile()  # min_replicas start now
        return web.Response(status=202, text=f"deployed {name}")

    async def update(self, request: web.Request) -> web.Response:
        body, policy = await self._deployment(request)
        name = body["service"]
        pool = self.pools.get(name)
        if pool is None:
            return _error(404, "not_found", f"function {name} not found; POST to deploy")
        old = self.deployments[name]
        replace = (old.get("image"), old.get("envVars")) != (body.get("image"),
                                                              body.get("envVars"))
        factory = await asyncio.to_thread(self._factory, body, policy) if replace else None
        self.deployments[name] = body
        pool.policy = policy
        pool.labels = body.get("labels") or {}
        if factory is not None:
            pool.factory = factory
            pool.image = body.get("image", "")
            pool.replace_all()
        else:
            pool.reconcile()
        return web.Response(status=202, text=f"updated {name}")

    async def remove(self, request: web.Request) -> web.Response:
        try:
            name = (await request.json()).get("functionName")
        except (ValueError, AttributeError):
            name = None
        if not name:
            return _error(400, "bad_request", "body must be {\"functionName\": NAME}")
        pool = self.pools.pop(name, None)
        self.deployments.pop(name, None)
        if pool is None:
            return _error(404, "not_found", f"function {name} not found")
        await pool.close()
        return web.Response(status=202, text=f"removed {name}")

    async def scale_function(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        pool = self.pools.get(name)
        if pool is None:
            return _error(404, "not_found", f"function {name} not found")
        try:
            replicas = int((await request.json())["replicas"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "bad_request", 'body must be {"replicas": N}')
        applied = await pool.scale_to(replicas)
        return web.json_response({"function": name, "requested": replicas,
                                  "replicas": applied}, status=202)

    # --- lifecycle -------------------------------------------------------------------------
    async def _reconcile_forever(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(RECONCILE_S)
            tick += 1
            for pool in list(self.pools.values()):
                try:
                    pool.reconcile(sample_memory=tick % MEMORY_EVERY == 0)
                except Exception as exc:  # keep the loop alive; say what happened
                    self.logs.scale_events.write({"function": pool.function,
                                                  "reason": "reconcile_error",
                                                  "error": repr(exc)})

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            connector=aiohttp.TCPConnector(limit=0))
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._reconciler = asyncio.get_running_loop().create_task(self._reconcile_forever())

    async def stop(self) -> None:
        if self._reconciler:
            self._reconciler.cancel()
        # All at once: a container takes most of a second to stop and be removed.
        await asyncio.gather(*(pool.close("platform_down") for pool in self.pools.values()))
        self.pools.clear()
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    # --- running on a private loop in a thread ---------------------------------------------
    def start_in_thread(self) -> Gateway:
        self._loop = new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="gateway", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise failure[0]
        return self

    def call(self, coro_fn, *args, timeout: float = 60.0):
        """Run ``coro_fn(*args)`` on the gateway's loop from another thread."""
        return asyncio.run_coroutine_threadsafe(coro_fn(*args), self._loop).result(timeout)

    def stop_thread(self) -> None:
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


__all__ = ["Gateway", "ENV_MAX_INFLIGHT"]
