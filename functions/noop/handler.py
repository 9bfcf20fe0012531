"""noop: answers at once (or after ``sleep_ms``). Not part of VideoSearcher: the control
function for measuring what the platform itself adds (gateway overhead, cold-start floor)."""

from __future__ import annotations

import os
import sys
import time

from functions.runtime.context import InvocationContext


def init(config: dict) -> None:
    # Failure injection for platform tests: a replica whose init fails (a missing model, say)
    # or whose process exits during start-up (exit code given).
    if os.environ.get("VSB_NOOP_INIT_FAIL"):
        raise RuntimeError(f"init failed on purpose: {os.environ['VSB_NOOP_INIT_FAIL']}")
    if os.environ.get("VSB_NOOP_INIT_EXIT"):
        print("noop: exiting during init on purpose", file=sys.stderr, flush=True)
        os._exit(int(os.environ["VSB_NOOP_INIT_EXIT"]))
    # A configurable init delay stands in for model loading in platform tests.
    delay = float(os.environ.get("VSB_NOOP_INIT_MS", config.get("init_ms", 0)))
    if delay:
        time.sleep(delay / 1000)


def handle(ctx: InvocationContext) -> dict:
    sleep_ms = float(ctx.cfg("sleep_ms", 0.0, float))
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    return {"echo": ctx.config.get("echo"), "pid": os.getpid()}
