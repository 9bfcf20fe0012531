"""The embedded gateway: OpenFaaS's gateway API, served by the platform itself.

Invocation: ``/function/{name}[.{namespace}][/{path}]`` (any method; method, path, query,
headers and body pass through to a replica, which speaks plain HTTP as of-watchdog's HTTP
mode does) and ``POST /async-function/...`` (a bounded queue, ``X-Callback-Url``; see
:mod:`.async_invoke`). The ``/system/*`` API (functions, scale, namespaces, info, secrets,
logs) is in :mod:`.gateway_system`; as in OpenFaaS it needs basic auth, invocation does not.
``GET /openapi.yaml`` serves the description of all of it (``openapi.yaml`` beside this file).

Answers carry OpenFaaS's ``X-Call-Id``, ``X-Start-Time`` and ``X-Duration-Seconds``, and
vsbench's ``X-Vsb-Replica``, ``X-Vsb-Queue-Ms`` and ``X-Vsb-Cold``, so clients can attribute
latency and cold starts.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from .async_invoke import AsyncInvoker
from .auth import BasicAuth
from .deployment import DEFAULT_NAMESPACE, Deployment, key_of
from .events import PlatformLogs
from .faults import FaultRoutes
from .gateway_system import SystemRoutes, error
from .metrics import GatewayMetrics
from .policy import ENV_MAX_INFLIGHT
from .scaling import QUEUE_FULL_RETRY_S, Lease, PoolError, ScalingPool
from .secrets import SecretStore

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
               "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection"}
# The server side hands over request bodies decoded; the client side passes answers as sent.
REQUEST_DROP = HOP_HEADERS | {"content-encoding", "authorization"}
RECONCILE_S = 0.1
MEMORY_EVERY = 5  # sample replica RSS every 5th tick (0.5 s): psutil walks are not free
OPENAPI = Path(__file__).with_name("openapi.yaml")
INVOKE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it roughly halves the gateway's per-request cost), else asyncio."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


class Gateway(SystemRoutes, FaultRoutes):
    def __init__(self, provider, logs: PlatformLogs | None = None,
                 auth: BasicAuth | None = None, host: str = "127.0.0.1", port: int = 0,
                 enforce_memory: bool = True, secrets_dir: Path | None = None):
        self.provider = provider
        self.logs = logs or PlatformLogs(None)
        self.auth = auth
        self.host = host
        self.port = port
        self.enforce_memory = enforce_memory
        self.pools: dict[str, ScalingPool] = {}  # by Deployment.key
        self.deployments: dict[str, Deployment] = {}
        self.namespaces: set[str] = {DEFAULT_NAMESPACE}
        self.secrets = SecretStore(secrets_dir)
        self.metrics = GatewayMetrics()
        self.started_at = time.time()
        self.asyncq = AsyncInvoker(self)
        self.fault_hooks: dict = {}  # storage_outage, gateway_restart: the platform's (.faults)
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
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
        for path in ("/function/{name}", "/function/{name}/{tail:.*}"):
            for method in INVOKE_METHODS:
                r.add_route(method, path, self.invoke)
        r.add_post("/async-function/{name}", self.asyncq.handle)
        r.add_post("/async-function/{name}/{tail:.*}", self.asyncq.handle)
        self.add_system_routes(r)
        self.add_fault_routes(r)
        r.add_get("/healthz", self.healthz)
        r.add_get("/metrics", self.prometheus)
        r.add_get("/openapi.yaml", self.openapi)
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
        qualified = {d.qualified: self.pools[k]
                     for k, d in self.deployments.items() if k in self.pools}
        return web.Response(text=self.metrics.render(qualified),
                            content_type="text/plain", charset="utf-8")

    async def openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=OPENAPI.read_bytes(), content_type="application/yaml")

    def lookup(self, name: str) -> Deployment | None:
        """The deployment ``name`` (``fn`` or ``fn.namespace``) invokes, if any."""
        return self.deployments.get(key_of(name))

    # --- invoke ---------------------------------------------------------------------------
    async def invoke(self, request: web.Request) -> web.Response:
        start_ns = time.time_ns()
        dep = self.lookup(request.match_info["name"])
        if dep is None or dep.key not in self.pools:
            return error(404, "not_found",
                         f"function {request.match_info['name']} is not deployed")
        body = await request.read()
        status, headers, data = await self.forward(
            dep, request.method, request.match_info.get("tail", ""), request.query_string,
            request.headers, body, start_ns)
        return web.Response(body=data, status=status, headers=headers)

    async def forward(self, dep: Deployment, method: str, tail: str, query: str,
                      in_headers, body: bytes, start_ns: int, call_id: str | None = None
                      ) -> tuple[int, dict[str, str], bytes]:
        """One call of ``dep`` on a replica: (status, headers, body), never an exception.
        ``call_id``: the id the call already has (an async call's), else a new one."""
        pool = self.pools[dep.key]
        name = dep.qualified
        t0 = time.perf_counter()
        ts = start_ns / 1e9
        call_id = call_id or self.new_call_id()
        request_id = in_headers.get("X-Vsb-Request-Id")
        self.metrics.started(name)
        out = {"X-Call-Id": call_id, "X-Start-Time": str(start_ns)}
        try:
            lease = await pool.acquire()
        except PoolError as exc:
            self._observe(dep, exc.status, t0, 0.0, None, None, ts, request_id, str(exc),
                          call_id)
            kind = {504: "queue_timeout", 429: "queue_full"}.get(exc.status, "unavailable")
            if exc.status == 429:
                out["Retry-After"] = str(QUEUE_FULL_RETRY_S)
            return self._error(exc.status, kind, str(exc), out, t0, retryable=True)
        headers = {k: v for k, v in in_headers.items() if k.lower() not in REQUEST_DROP}
        headers.update({"X-Vsb-Call-Id": call_id, "X-Call-Id": call_id,
                        "X-Start-Time": str(start_ns)})
        timeout = self._timeouts.get(dep.timeout_s) or self._timeouts.setdefault(
            dep.timeout_s, aiohttp.ClientTimeout(total=dep.timeout_s))
        rep = lease.replica
        url = f"{rep.url}/{tail}" + (f"?{query}" if query else "")
        queue_s = lease.queue_ms / 1000
        try:
            async with self._session.request(method, url, data=body, headers=headers,
                                             timeout=timeout, allow_redirects=False) as resp:
                data = await resp.read()
                out.update({k: v for k, v in resp.headers.items()
                            if k.lower() not in HOP_HEADERS})
                status = resp.status
        except TimeoutError:
            pool.release(lease)
            msg = (f"replica {rep.replica_id} of {dep.service} did not answer within "
                   f"{dep.timeout_s:g} s (exec_timeout)")
            self._observe(dep, 504, t0, queue_s, lease, rep.replica_id, ts, request_id,
                          msg, call_id)
            return self._error(504, "timeout", msg, out, t0)
        except (aiohttp.ClientError, ConnectionError) as exc:
            pool.release(lease)
            for _ in range(10):  # the socket closes a moment before the process is reaped
                if not rep.alive():
                    break
                await asyncio.sleep(0.02)
            pool.reconcile()  # notice the dead replica now, not on the next tick
            msg = (f"replica {rep.replica_id} of {dep.service} failed mid-request "
                   f"({type(exc).__name__}: {exc})"
                   + (f"; the replica {rep.host} died" if not rep.alive() else ""))
            self._observe(dep, 502, t0, queue_s, lease, rep.replica_id, ts, request_id,
                          msg, call_id)
            return self._error(502, "replica_failed", msg, out, t0, retryable=True)
        pool.release(lease)
        self._observe(dep, status, t0, queue_s, lease, rep.replica_id, ts, request_id,
                      None, call_id)
        out.update({
            "X-Vsb-Replica": rep.replica_id,
            "X-Vsb-Call-Id": call_id,
            "X-Vsb-Queue-Ms": f"{lease.queue_ms:.3f}",
            "X-Vsb-Cold": "1" if lease.cold else "0",
            "X-Vsb-Start": lease.start,
            "X-Duration-Seconds": f"{time.perf_counter() - t0:.6f}",
        })
        return status, out, data

    @staticmethod
    def _error(status: int, kind: str, message: str, headers: dict[str, str], t0: float,
               retryable: bool = False) -> tuple[int, dict[str, str], bytes]:
        resp = error(status, kind, message, retryable)
        headers = {**headers, "Content-Type": "application/json",
                   "X-Duration-Seconds": f"{time.perf_counter() - t0:.6f}"}
        return status, headers, resp.body

    def _observe(self, dep: Deployment, status: int, t0: float, queue_s: float,
                 lease: Lease | None,
                 replica: str | None, ts: float, request_id: str | None, error: str | None,
                 call_id: str | None):
        seconds = time.perf_counter() - t0
        cold = lease is not None and lease.cold
        self.metrics.observe(dep.qualified, status, seconds, queue_s, cold)
        self.logs.invocations.write({
            "ts": ts, "call_id": call_id, "function": dep.key, "status": status,
            "duration_ms": round(seconds * 1000, 3), "queue_ms": round(queue_s * 1000, 3),
            "cold": cold, "start": lease.start if lease else None, "replica_id": replica,
            "request_id": request_id, "error": error})

    def new_call_id(self) -> str:
        return f"{self._call_prefix}{next(self._call_seq)}"

    # --- making pools ----------------------------------------------------------------------
    def make_factory(self, dep: Deployment):
        """The provider's replica factory for ``dep`` (may import an image: off the loop)."""
        starters = getattr(self.provider, "starters", ("spawn",))
        if dep.policy.starter not in starters:
            raise ValueError(f"the {self.provider.name} host starts replicas with "
                             f"{' or '.join(starters)}, not {dep.policy.starter}")
        env = dict(dep.env_vars)
        env["VSB_MAX_INFLIGHT"] = str(dep.policy.max_inflight)  # the runtime enforces it too
        if dep.env_process:
            env["fprocess"] = dep.env_process  # as OpenFaaS sets it for the watchdog
        secrets = [(self.secrets.path(s, dep.namespace), s) for s in dep.secrets]
        if self.provider.name == "process":  # no mounts: OpenFaaS's variable names the folder
            env["secret_mount_path"] = str(self.secrets.root / dep.namespace)
        return self.provider.factory(dep.service, env, dep.image, policy=dep.policy,
                                     secrets=secrets, read_only=dep.read_only_root_fs)

    def make_pool(self, dep: Deployment, factory) -> ScalingPool:
        # Where the kernel enforces the limit (containers), the RSS watchdog stays out of it.
        watchdog = self.enforce_memory and not getattr(self.provider, "enforces_memory", False)
        return ScalingPool(dep.key, dep.policy, factory, self.logs, image=dep.image,
                           labels=dep.labels, enforce_memory=watchdog)

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
            connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._reconciler = asyncio.get_running_loop().create_task(self._reconcile_forever())
        self.asyncq.start()

    async def restore(self, deployments: list[Deployment], namespaces: set[str]) -> None:
        """Deploy what a previous gateway on this address had (after a restart)."""
        self.namespaces |= namespaces
        for dep in deployments:
            self.deployments[dep.key] = dep
            factory = await asyncio.to_thread(self.make_factory, dep)
            self.pools[dep.key] = self.make_pool(dep, factory)
            self.pools[dep.key].reconcile()

    async def stop(self, reason: str = "platform_down") -> None:
        if self._reconciler:
            self._reconciler.cancel()
        await self.asyncq.stop()
        # All at once: a container takes most of a second to stop and be removed.
        await asyncio.gather(*(pool.close(reason) for pool in self.pools.values()))
        self.pools.clear()
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()
        self.secrets.close()

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

    def stop_thread(self, reason: str = "platform_down") -> None:
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(reason), self._loop).result(60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


__all__ = ["Gateway", "ENV_MAX_INFLIGHT", "error"]
