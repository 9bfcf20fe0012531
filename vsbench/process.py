"""``vsbench process``: run one video through VideoSearcher on this machine."""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from functions.runtime.media import MAX_DURATION_S, MAX_INPUT_MB, ffmpeg_exe
from functions.runtime.mediainfo import probe
from functions.runtime.telemetry import ToolError, run_tool

from .errors import VsbError


def new_request_id() -> str:
    return time.strftime("req-%Y%m%dT%H%M%S-", time.gmtime()) + secrets.token_hex(3)


def validate_video(path: Path, max_mb: float = MAX_INPUT_MB,
                   max_duration_s: float = MAX_DURATION_S) -> None:
    """Refuse what is not a whole, decodable video within the limits, with one line naming
    the file."""
    if not path.exists():
        raise VsbError(f"{path}: no such file; give the path of a video file")
    if not path.is_file():
        raise VsbError(f"{path}: not a regular file; give the path of a video file")
    size = path.stat().st_size
    if size == 0:
        raise VsbError(f"{path}: file is empty; give a video file (MP4, MKV, WebM...)")
    if size / 2**20 > max_mb:
        raise VsbError(f"{path}: {size / 2**20:.0f} MB is more than the limit of {max_mb:g} MB;"
                       " raise it with --max-mb")
    try:
        info = probe(path)
    except ValueError as exc:
        raise VsbError(f"{path}: not a video ({exc})") from None
    if not info.has_video:
        raise VsbError(f"{path}: has no video stream (audio-only?); give a video file")
    if info.duration_s and info.duration_s > max_duration_s:
        raise VsbError(f"{path}: {info.duration_s:.0f} s long, more than the limit of "
                       f"{max_duration_s:g} s; raise it with --max-duration-s")
    try:
        # Decode everything once: a truncated or corrupt file fails here, not mid-pipeline.
        run = run_tool([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path),
                        "-f", "null", "-"], timeout_s=600)
    except ToolError as exc:
        raise VsbError(f"{path}: damaged or truncated video ({exc})") from None
    if run.stderr.strip():
        first = run.stderr.strip().splitlines()[0]
        raise VsbError(f"{path}: damaged or truncated video ({first})")


def run_orchestrator(gateway_url: str, store, video: Path, query: str,
                     config: dict[str, Any] | None = None, request_id: str | None = None,
                     timeout_s: float = 900.0) -> dict:
    """Upload ``video``, invoke the orchestrator through the gateway, return the result."""
    rid = request_id or new_request_id()
    key = f"uploads/{rid}/{video.name}"
    uri = store.put_file(video, key)
    envelope = {"request_id": rid, "stage": "orchestrator", "inputs": {"video": uri},
                "config": {"query": query, **(config or {})}}
    t0 = time.perf_counter()
    try:
        resp = requests.post(f"{gateway_url.rstrip('/')}/function/orchestrator", json=envelope,
                             timeout=timeout_s, headers={"X-Vsb-Request-Id": rid})
    except requests.RequestException as exc:
        raise VsbError(f"{video}: the gateway at {gateway_url} did not answer: {exc}") from None
    client_ms = (time.perf_counter() - t0) * 1000
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code != 200:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        message = err.get("message") if isinstance(err, dict) else None
        raise VsbError(f"{video}: {message or f'HTTP {resp.status_code} from the orchestrator'}")
    result = store.get_json(body["outputs"]["result"])
    result["timings"]["client_ms"] = round(client_ms, 1)
    result["timings"]["orchestrator_cold"] = resp.headers.get("X-Vsb-Cold") == "1"
    # A request is cold when any of its invocations was (the orchestrator's included).
    result["cold"] = bool(result["timings"]["cold"] or result["timings"]["orchestrator_cold"])
    return result


def process_video(video: Path, query: str = "", config: dict[str, Any] | None = None,
                  state_dir: Path | None = None, regime: str = "warm",
                  max_mb: float = MAX_INPUT_MB, max_duration_s: float = MAX_DURATION_S) -> dict:
    """Run one request: on the running platform if there is one, else on a temporary one
    deployed under ``regime`` (from config/config.yaml) and torn down afterwards. The limits
    are checked here and passed to ffmpeg-0, which checks them too."""
    from functions.runtime.claimcheck import ClaimCheckStore

    from .platform.daemon import read_state
    from .platform.embedded import EmbeddedPlatform
    from .platform.storage import StorageConfig, settings_from_state
    from .regimes import load_config, resolve_regime

    validate_video(video, max_mb, max_duration_s)
    config = dict(config or {})
    if not isinstance(config.get("stages") or {}, dict):
        raise VsbError("--config: 'stages' must be an object of per-stage config")
    stages = dict(config.get("stages") or {})
    stages["ffmpeg-0"] = {"max_input_mb": max_mb, "max_duration_s": max_duration_s,
                          **(stages.get("ffmpeg-0") or {})}
    config["stages"] = stages
    state = read_state(state_dir)
    if state:
        store = ClaimCheckStore(settings_from_state(state))
        return run_orchestrator(state["gateway_url"], store, video, query, config)
    study = load_config()
    policies = resolve_regime(study, regime)
    with tempfile.TemporaryDirectory(prefix="vsb-process-") as tmp:
        with EmbeddedPlatform(Path(tmp), StorageConfig.from_config(study)) as platform:
            platform.deploy(policies)
            return run_orchestrator(platform.gateway_url, platform.store, video, query, config)
