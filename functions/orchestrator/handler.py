"""orchestrator: accepts ``{video}`` + ``{query}`` and drives VideoSearcher's stages.

It reaches the other functions through a gateway URL (``VSB_GATEWAY_URL`` or config
``gateway_url``) with OpenFaaS's route shape, so it cannot tell the embedded gateway from a
real OpenFaaS one. A request is ``ok`` only when every stage succeeded.
"""

from __future__ import annotations

import os

from functions.runtime.context import InvocationContext
from functions.runtime.errors import StageError

from .client import GatewayClient, RetryPolicy, StageFailed
from .pipeline import RequestState, run_request, timings


def _auth() -> tuple[str, str] | None:
    path = os.environ.get("VSB_GATEWAY_AUTH_FILE")
    if path and os.path.exists(path):
        user, _, password = open(path).read().strip().partition(":")
        return (user, password)
    return None


class RequestFailed(StageError):
    def __init__(self, message: str, status: int, kind: str):
        super().__init__(message, retryable=False)
        self.status = status
        self.kind = kind


def handle(ctx: InvocationContext) -> dict:
    gateway = ctx.cfg("gateway_url", os.environ.get("VSB_GATEWAY_URL", ""), str)
    if not gateway:
        raise StageError("orchestrator: no gateway URL (set VSB_GATEWAY_URL or config gateway_url)")
    retry_cfg = ctx.cfg("retries", {}, dict)
    client = GatewayClient(
        gateway,
        retry=RetryPolicy(**{k: retry_cfg[k] for k in ("max_attempts", "backoff_s",
                                                        "max_backoff_s") if k in retry_cfg}),
        timeouts_s=ctx.cfg("timeouts_s", {}, dict),
        default_timeout_s=float(ctx.cfg("default_timeout_s", 300.0, float)),
        auth=_auth(),
    )
    state = RequestState(ctx.request_id, lambda doc: ctx.put_json(doc, "state.json"))
    try:
        video = ctx.checked_uri(ctx.input("video", str))  # a bad key fails here, not a stage
        result = run_request(client, ctx.request_id, video, ctx.config, state, ctx.put_json)
    except StageFailed as exc:
        status = "timeout" if exc.kind == "timeout" else "app_error"
        try:
            state.save(status=status, error={"stage": exc.function, "kind": exc.kind,
                                             "message": str(exc)},
                       calls=[r.to_dict() for r in client.records],
                       timings=timings(client, 0.0))
        except StageError:
            pass  # the store is down too (an outage): the stage's failure is the answer
        http = exc.status if exc.status in (400, 422, 501) else 502
        if exc.kind == "timeout":
            http = 504
        raise RequestFailed(str(exc), http, exc.kind) from exc
    result_uri = ctx.put_json(result, "result.json")
    state.save(status="ok", calls=[r.to_dict() for r in client.records],
               timings=result["timings"], result=result_uri)
    return {"result": result_uri, "state": ctx.store.uri(ctx.key("state.json")),
            "status": "ok", "e2e_ms": result["timings"]["e2e_ms"]}
