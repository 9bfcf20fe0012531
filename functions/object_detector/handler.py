"""object-detector: COCO objects on sampled frames (onnxruntime, real decode + class-wise NMS).

The model is loaded once per replica in ``init()`` (the model-load part of a cold start); it
must have been provisioned at set-up (``vsbench setup``), never fetched here.
"""

from __future__ import annotations

import threading

from functions.runtime.context import InvocationContext
from functions.runtime.errors import BadEnvelope, Unavailable
from functions.runtime.media import safe_extract

_detectors: dict[tuple, object] = {}
_lock = threading.Lock()
_defaults: dict = {"model": "fastestdet", "score_threshold": None, "nms_iou": 0.45}


def _get_detector(model: str, score_threshold: float | None, nms_iou: float):
    from functions.models import ModelError, ensure_model

    from .detector import Detector

    key = (model, score_threshold, nms_iou)
    with _lock:
        if key not in _detectors:
            try:
                path = ensure_model(model, download=False)
            except (ModelError, KeyError) as exc:
                raise Unavailable(str(exc)) from exc
            _detectors[key] = Detector.load(model, path, score_threshold=score_threshold,
                                            nms_iou=nms_iou)
        return _detectors[key]


# A fork server's template imports these; the ONNX session (thread pools) stays per replica.
FORK_PRELOAD = ("cv2", "onnxruntime", "functions.object_detector.detector")


def init(config: dict) -> None:
    _defaults.update({k: v for k, v in config.items() if k in _defaults})
    _get_detector(_defaults["model"], _defaults["score_threshold"], _defaults["nms_iou"])


def handle(ctx: InvocationContext) -> dict:
    from .detector import load_image

    model = ctx.cfg("model", _defaults["model"], str)
    threshold = ctx.cfg("score_threshold", _defaults["score_threshold"], (int, float, type(None)))
    nms_iou = float(ctx.cfg("nms_iou", _defaults["nms_iou"], float))
    detector = _get_detector(model, threshold, nms_iou)
    index = ctx.input("index")
    if not isinstance(index, list):
        raise BadEnvelope("input 'index' must be the frame list written by ffmpeg-3")
    archive = ctx.fetch(ctx.input("frames"), "frames.tar")
    files = {p.name: p for p in safe_extract(archive, ctx.workdir / "frames")}
    frames = []
    for entry in index:
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise BadEnvelope(f"input 'index': each entry must be an object with a file name, "
                              f"got {entry!r:.80}")
        path = files.get(entry["file"])
        if path is None:
            raise BadEnvelope(f"frame {entry['file']!r} listed in the index is not in the archive")
        dets = detector.detect(load_image(path))
        frames.append({"time_s": entry["time_s"], "detections": [d.to_dict() for d in dets]})
    clip_index = int(ctx.cfg("clip_index", 0, int))
    uri = ctx.put_json(frames, f"clip-{clip_index:03d}/detections.json")
    return {"detections": uri, "frames": frames}
