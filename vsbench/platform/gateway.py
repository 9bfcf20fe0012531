"""A gateway speaking OpenFaaS's invoke route: ``POST /function/{name}``.

Body and headers pass through; the answer carries ``X-Vsb-Replica``, ``X-Vsb-Queue-Ms`` and
``X-Vsb-Cold`` so clients can attribute latency. Runs on its own asyncio loop, in a thread
(``vsbench process``) or as the platform's process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import aiohttp
from aiohttp import web

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host",
               "content-encoding"}


class Gateway:
    def __init__(self, pools: dict[str, Any], host: str = "127.0.0.1", port: int = 0):
        self.pools = pools
        self.host = host
        self.port = port
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 22)
        app.router.add_post("/function/{name}", self.invoke)
        app.router.add_get("/system/functions", self.list_functions)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def list_functions(self, request: web.Request) -> web.Response:
        return web.json_response([p.describe() for p in self.pools.values()])

    async def invoke(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        pool = self.pools.get(name)
        if pool is None:
            return web.json_response(
                {"error": {"kind": "not_found", "message": f"function {name} not found"}},
                status=404)
        body = await request.read()
        t0 = time.perf_counter()
        try:
            lease = await pool.acquire()
        except LookupError as exc:
            return web.json_response({"error": {"kind": "unavailable", "message": str(exc)}},
                                     status=503)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        try:
            async with self._session.post(f"{lease.replica.url}/", data=body,
                                          headers=headers) as resp:
                data = await resp.read()
                out_headers = {k: v for k, v in resp.headers.items()
                               if k.lower() not in HOP_HEADERS}
                status = resp.status
        except (aiohttp.ClientError, ConnectionError) as exc:
            return web.json_response(
                {"error": {"kind": "replica_failed", "retryable": True,
                           "message": f"replica {lease.replica.replica_id} of {name} failed "
                                      f"mid-request: {type(exc).__name__}: {exc}"}},
                status=502)
        finally:
            pool.release(lease)
        out_headers.update({
            "X-Vsb-Replica": lease.replica.replica_id,
            "X-Vsb-Queue-Ms": f"{lease.queue_ms:.3f}",
            "X-Vsb-Cold": "1" if lease.cold else "0",
            "X-Duration-Seconds": f"{time.perf_counter() - t0:.6f}",
        })
        return web.Response(body=data, status=status, headers=out_headers)

    # --- running on a private loop in a thread -------------------------------------------
    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
            connector=aiohttp.TCPConnector(limit=0, force_close=False))
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()
        if self._session:
            await self._session.close()

    def start_in_thread(self) -> Gateway:
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="gateway", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def stop_thread(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None
