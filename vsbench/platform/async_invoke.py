"""``POST /async-function/{name}[.{namespace}][/{path}]``: OpenFaaS's asynchronous invocation.

The request (method, path, query, headers, body) is queued and answered at once with 202
and its ``X-Call-Id``; workers invoke the function as a synchronous call would, then, if the
request carried ``X-Callback-Url``, POST the function's answer there with ``X-Call-Id``,
``X-Function-Status``, ``X-Function-Name`` and ``X-Duration-Seconds`` (as OpenFaaS's queue
worker does). The queue is bounded: beyond ``VSB_ASYNC_QUEUE`` (default 1000) waiting calls
the gateway answers 429 with ``Retry-After``. Every outcome, callback included, is logged in
the platform's ``async`` event log.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .gateway_system import error

if TYPE_CHECKING:
    from .gateway import Gateway

ENV_QUEUE = "VSB_ASYNC_QUEUE"
ENV_WORKERS = "VSB_ASYNC_WORKERS"
CALLBACK_TIMEOUT_S = 30.0


@dataclass
class AsyncCall:
    name: str
    tail: str
    query: str
    headers: dict[str, str]
    body: bytes
    callback: str | None
    call_id: str
    start_ns: int


class AsyncInvoker:
    def __init__(self, gateway: Gateway):
        self.gateway = gateway
        self.limit = int(os.environ.get(ENV_QUEUE, "1000"))
        self.workers = int(os.environ.get(ENV_WORKERS, "4"))
        self.queue: asyncio.Queue[AsyncCall] | None = None
        self._tasks: list[asyncio.Task] = []
        self.done = 0

    def start(self) -> None:
        self.queue = asyncio.Queue(self.limit)
        self.start_workers()

    def start_workers(self) -> None:
        self._tasks = [asyncio.get_running_loop().create_task(self._work())
                       for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def handle(self, request: web.Request) -> web.Response:
        start_ns = time.time_ns()
        name = request.match_info["name"]
        if self.gateway.lookup(name) is None:
            return error(404, "not_found", f"function {name} is not deployed")
        callback = request.headers.get("X-Callback-Url")
        if callback is not None:
            parts = urlsplit(callback)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                return error(400, "bad_request", f"X-Callback-Url {callback!r} is not an "
                             "http(s) URL")
        call = AsyncCall(name, request.match_info.get("tail", ""), request.query_string,
                         dict(request.headers), await request.read(), callback,
                         self.gateway.new_call_id(), start_ns)
        try:
            self.queue.put_nowait(call)
        except asyncio.QueueFull:
            return error(429, "queue_full", f"the async queue holds {self.limit} calls "
                         f"({ENV_QUEUE}); retry later", retryable=True,
                         headers={"Retry-After": "1"})
        return web.Response(status=202, headers={"X-Call-Id": call.call_id,
                                                 "X-Start-Time": str(start_ns)})

    async def _work(self) -> None:
        while True:
            call = await self.queue.get()
            try:
                await self._run(call)
            except Exception as exc:  # a worker never dies: log and go on
                self.gateway.logs.async_calls.write({"call_id": call.call_id,
                                                     "function": call.name,
                                                     "error": repr(exc)})
            finally:
                self.queue.task_done()

    async def _run(self, call: AsyncCall) -> None:
        gw = self.gateway
        dep = gw.lookup(call.name)
        if dep is None or dep.key not in gw.pools:  # removed while queued
            status, out, data = 404, {}, f"function {call.name} is not deployed".encode()
        else:
            status, out, data = await gw.forward(dep, "POST", call.tail, call.query,
                                                 call.headers, call.body, call.start_ns,
                                                 call.call_id)
        seconds = (time.time_ns() - call.start_ns) / 1e9
        record = {"call_id": call.call_id, "function": call.name, "status": status,
                  "duration_ms": round(seconds * 1000, 3), "callback": call.callback}
        if call.callback:
            cb_headers = {"X-Call-Id": call.call_id, "X-Function-Status": str(status),
                          "X-Function-Name": call.name,
                          "X-Duration-Seconds": f"{seconds:.6f}"}
            if "Content-Type" in out:
                cb_headers["Content-Type"] = out["Content-Type"]
            try:
                async with gw._session.post(
                        call.callback, data=data, headers=cb_headers,
                        timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_S)) as resp:
                    record["callback_status"] = resp.status
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                record["callback_error"] = f"{type(exc).__name__}: {exc}"
        gw.logs.async_calls.write(record)
        self.done += 1
