"""VideoSearcher's flow, driven by the orchestrator function.

ffmpeg-0 → librosa → ffmpeg-1 → for each clip, in parallel: [ffmpeg-2 → asr] alongside
[ffmpeg-3 → object-detector] → search. The fan-out really is parallel: up to
``max_parallel_clips`` clips at once, and within a clip its two chains side by side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from .client import GatewayClient, StageFailed

STAGE_FUNCTIONS = ["ffmpeg-0", "librosa", "ffmpeg-1", "ffmpeg-2", "asr", "ffmpeg-3",
                   "object-detector", "search"]


class RequestState:
    """The request's ``state.json``: status, stage progress and every call, saved atomically."""

    def __init__(self, request_id: str, save: Callable[[dict], None]):
        self.request_id = request_id
        self._save = save
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {
            "request_id": request_id, "status": "running", "started_ts": time.time(),
            "updated_ts": time.time(), "stages": {}, "error": None,
        }

    def stage(self, name: str, status: str, **extra: Any) -> None:
        with self._lock:
            self.data["stages"].setdefault(name, {}).update({"status": status, **extra})

    def save(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
            self.data["updated_ts"] = time.time()
            snapshot = dict(self.data)
        self._save(snapshot)  # a single PUT: readers see the old or the new state, never half


def _stage_cfg(config: dict, name: str, **extra: Any) -> dict:
    return {**config.get("stages", {}).get(name, {}), **extra}


def run_request(
    client: GatewayClient,
    request_id: str,
    video_uri: str,
    config: dict[str, Any],
    state: RequestState,
    put_json: Callable[[Any, str], str],
) -> dict[str, Any]:
    """Run one request through every stage; return the result document.

    Raises :class:`StageFailed` (after recording it in ``state``) when a stage fails.
    """
    t0 = time.perf_counter()
    query = config.get("query", "")

    def call(function: str, inputs: dict, clip: int | None = None, **cfg: Any) -> dict:
        env = {"request_id": request_id, "stage": function, "inputs": inputs,
               "config": _stage_cfg(config, function, **cfg)}
        return client.call(function, env, clip=clip)

    state.save()
    state.stage("ffmpeg-0", "running")
    split = call("ffmpeg-0", {"video": video_uri})
    info = split["info"]
    state.stage("ffmpeg-0", "done")

    segments: Any
    if info["has_audio"]:
        seg = call("librosa", {"audio": split["audio"]})
        state.stage("librosa", "done", count=seg["count"])
        segments = seg["segments"] if seg["count"] else None
    else:
        state.stage("librosa", "skipped", reason="no audio track")
        segments = None
    if segments is None:  # no audio, or no speech: the whole video is one clip
        segments = [{"index": 0, "start_s": 0.0, "end_s": float(info["duration_s"])}]

    cut = call("ffmpeg-1", {"video": video_uri, "segments": segments})
    clips = cut["clips"]
    state.stage("ffmpeg-1", "done", count=len(clips))
    state.save()

    transcripts: dict[int, dict] = {}
    detections: dict[int, list] = {}

    def audio_chain(clip: dict) -> None:
        i = clip["index"]
        extra = {"clip_index": i, "clip_start_s": clip["start_s"]}
        comp = call("ffmpeg-2", {"clip": clip["uri"]}, clip=i, **extra)
        clip["compressed"] = comp["compressed"]
        if info["has_audio"] and comp.get("audio"):
            tr = call("asr", {"audio": comp["audio"]}, clip=i, **extra)
            transcripts[i] = {"text": tr["text"], "words": tr["words"]}
        else:
            transcripts[i] = {"text": "", "words": []}

    def visual_chain(clip: dict) -> None:
        i = clip["index"]
        extra = {"clip_index": i, "clip_start_s": clip["start_s"]}
        frames = call("ffmpeg-3", {"clip": clip["uri"]}, clip=i, **extra)
        det = call("object-detector", {"frames": frames["frames"], "index": frames["index"]},
                   clip=i, **extra)
        detections[i] = det["frames"]

    # At most `width` clips in flight; within a clip the two chains run side by side.
    width = max(1, int(config.get("max_parallel_clips", 8)))
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="visual") as visual_pool:

        def clip_task(clip: dict) -> None:
            visual = visual_pool.submit(visual_chain, clip)
            try:
                audio_chain(clip)
            finally:
                visual.result()  # re-raises the visual chain's failure, if any

        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="clip") as clip_pool:
            futures = [clip_pool.submit(clip_task, clip) for clip in clips]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f in done:
                if f.exception() is not None:
                    raise f.exception()
    for name in ("ffmpeg-2", "asr", "ffmpeg-3", "object-detector"):
        state.stage(name, "done")

    out_clips = []
    for clip in clips:
        i = clip["index"]
        out_clips.append({
            "index": i, "start_s": clip["start_s"], "end_s": clip["end_s"],
            "transcript": transcripts[i]["text"], "words": transcripts[i]["words"],
            "frames": detections[i], "uri": clip["uri"], "compressed": clip.get("compressed"),
        })
    summary_uri = put_json(out_clips, "clips.json")
    found = call("search", {"clips": summary_uri}, query=query)
    state.stage("search", "done")

    return {
        "request_id": request_id,
        "status": "ok",
        "query": query,
        "video": {"duration_s": info["duration_s"], "has_audio": info["has_audio"],
                  "width": info.get("width"), "height": info.get("height")},
        "clips": out_clips,
        "matches": found["matches"],
        "timings": timings(client, (time.perf_counter() - t0) * 1000),
    }


def timings(client: GatewayClient, e2e_ms: float) -> dict[str, Any]:
    """Per-stage totals from every call the request made (retries included)."""
    stages: dict[str, dict[str, Any]] = {}
    for rec in client.records:
        s = stages.setdefault(rec.function, {"exec_ms": 0.0, "wall_ms": 0.0, "calls": 0,
                                             "attempts": 0, "cpu_ms": 0.0, "cold": 0,
                                             "queue_ms": 0.0})
        s["attempts"] += 1
        s["cold"] += int(rec.cold)
        s["queue_ms"] += rec.queue_ms
        s["wall_ms"] += rec.wall_ms
        if rec.status == 200:
            s["calls"] += 1
        s["exec_ms"] += float(rec.metrics.get("exec_ms", 0.0))
        s["cpu_ms"] += float(rec.metrics.get("cpu_ms", 0.0))
    for s in stages.values():
        for k in ("exec_ms", "wall_ms", "cpu_ms", "queue_ms"):
            s[k] = round(s[k], 1)
    cold = any(rec.cold for rec in client.records)
    return {"e2e_ms": round(e2e_ms, 1), "cold": cold, "stages": stages}


__all__ = ["STAGE_FUNCTIONS", "RequestState", "StageFailed", "run_request", "timings"]
