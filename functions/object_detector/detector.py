"""Object detector core: an ONNX Runtime session plus the pre/post-processing of each model kind.

Kinds:
  * ``fastestdet`` (default): FastestDet COCO-80, input BGR 352x352, plain resize
    (cv2.INTER_AREA, no letterbox), /255, NCHW; one output [1,85,22,22]. Decoded as in
    /work/shared/models/fastestdet/MODEL_CARD.md. Default threshold 0.65.
  * ``yolov4-tiny``: darknet YOLOv4-tiny COCO-80, input RGB 416x416, plain resize
    (cv2.INTER_LINEAR, no letterbox: darknet's default and Tianxiaomo/pytorch-YOLOv4's
    demo), /255. Output layouts, found from the output shapes:
      - ``boxes`` [1,N,1,4] (normalised x1y1x2y2) + ``confs`` [1,N,80] (obj*cls);
      - two raw [yolo] heads, [1,255,13,13] and [1,255,26,26] (or [1,H,W,3,85]).
    Default threshold 0.4.
Because every resize is plain, normalised boxes map straight back to the original image.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

try:
    from . import decoders
except ImportError:  # loaded as a top-level module from inside a function bundle
    import decoders  # type: ignore[no-redef]

from functions.models import COCO80

KINDS = ("fastestdet", "yolov4-tiny")


@dataclass(frozen=True)
class KindSpec:
    """Pre-processing and defaults of one model kind."""

    input_size: tuple[int, int]  # (width, height) used when the model's input is dynamic
    rgb: bool  # channel order the network expects
    interpolation: int
    score_threshold: float


KIND_SPECS: dict[str, KindSpec] = {
    "fastestdet": KindSpec(
        (352, 352), rgb=False, interpolation=cv2.INTER_AREA, score_threshold=0.65
    ),
    "yolov4-tiny": KindSpec(
        (416, 416), rgb=True, interpolation=cv2.INTER_LINEAR, score_threshold=0.4
    ),
}


@dataclass(frozen=True)
class Detection:
    """One detected object; ``box`` is x1, y1, x2, y2 in original-image pixels, clipped."""

    label: str
    class_id: int
    score: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: box rounded to whole pixels, score to 3 decimals."""
        return {
            "label": self.label,
            "class_id": self.class_id,
            "score": round(self.score, 3),
            "box": [int(round(v)) for v in self.box],
        }


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as a BGR uint8 array (H, W, 3); ValueError if unreadable."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"image file not found: {p}")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:  # cv2 signals decode failures with None, not an exception
        raise ValueError(
            f"cannot decode image {p}: not an image format OpenCV can read, or corrupt"
        )
    return img


def _static_shape(shape: Sequence[Any]) -> tuple[int | None, ...]:
    # ONNX dims can be symbolic ('batch', 'N'); treat those as unknown.
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def infer_kind(output_shapes: Sequence[Sequence[int | None]], num_classes: int = 80) -> str:
    """Guess the model kind from its output shapes (None = dynamic dim).

    One 4-D output with 5+C channels -> fastestdet; two outputs -> yolov4-tiny
    (either boxes/confs or two raw heads). Raises ValueError otherwise.
    """
    attrs = 5 + num_classes
    if len(output_shapes) == 1 and len(output_shapes[0]) == 4 and output_shapes[0][1] == attrs:
        return "fastestdet"
    if len(output_shapes) == 2:
        lasts = {s[-1] for s in output_shapes}
        if 4 in lasts and num_classes in lasts:  # boxes [1,N,(1,)4] + confs [1,N,C]
            return "yolov4-tiny"
        if all(
            (len(s) == 4 and s[1] == 3 * attrs) or (len(s) == 5 and s[-1] == attrs)
            for s in output_shapes
        ):
            return "yolov4-tiny"  # two raw [yolo] heads, NCHW or 5-D
    raise ValueError(
        f"cannot tell the model kind from its output shapes {list(map(list, output_shapes))}; "
        f"pass kind= one of {KINDS}"
    )


class Detector:
    """An ONNX detector: ``Detector.load(kind, path)`` then ``detect(image_bgr)``."""

    def __init__(
        self,
        session: Any,
        kind: str = "auto",
        score_threshold: float | None = None,
        nms_iou: float = 0.45,
        class_names: Sequence[str] = COCO80,
    ) -> None:
        """Wrap a session: anything with get_inputs/get_outputs/run, so tests can fake one."""
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name: str = inp.name
        self.output_names: list[str] = [o.name for o in session.get_outputs()]
        if kind == "auto":
            kind = infer_kind(
                [_static_shape(o.shape) for o in session.get_outputs()], len(class_names)
            )
        if kind not in KIND_SPECS:
            raise ValueError(f"unknown detector kind {kind!r}; use one of {KINDS} or 'auto'")
        self.kind = kind
        spec = KIND_SPECS[kind]
        self.spec = spec
        self.score_threshold = (
            spec.score_threshold if score_threshold is None else float(score_threshold)
        )
        self.nms_iou = float(nms_iou)
        self.class_names = tuple(class_names)
        shape = _static_shape(inp.shape)
        # Channels-last inputs come from TF/Keras exports: [1,H,W,3].
        self.nhwc = len(shape) == 4 and shape[3] == 3 and shape[1] != 3
        h, w = (None, None)
        if len(shape) == 4:
            h, w = (shape[1], shape[2]) if self.nhwc else (shape[2], shape[3])
        self.input_size: tuple[int, int] = (w, h) if w and h else spec.input_size
        self.load_seconds: float | None = None  # set by load(): session creation time

    @classmethod
    def load(
        cls,
        kind: str,
        model_path: Path | str,
        score_threshold: float | None = None,
        nms_iou: float = 0.45,
        intra_op_threads: int = 1,
    ) -> Detector:
        """Create an onnxruntime CPU session for ``model_path`` and wrap it.

        ``kind`` is 'fastestdet', 'yolov4-tiny' or 'auto' (from the output shapes).
        ``score_threshold`` None means the kind's default (0.65 / 0.4).
        One intra-op thread by default: serverless instances get about one vCPU, and
        extra threads would only contend with the platform's own work there.
        """
        import onnxruntime as ort  # imported here so that importing this module stays cheap

        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(
                f"model file not found: {path} (see functions.models.ensure_model)"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = intra_op_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        t0 = time.perf_counter()
        try:
            session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own, unexported exception types
            raise ValueError(f"onnxruntime cannot load {path}: {e}") from e
        load_seconds = time.perf_counter() - t0
        det = cls(session, kind=kind, score_threshold=score_threshold, nms_iou=nms_iou)
        det.load_seconds = load_seconds
        return det

    def preprocess(self, image_bgr: np.ndarray) -> np.ndarray:
        """Plain resize (no letterbox), channel order for the kind, /255, float32 batch of 1."""
        img = _as_bgr(image_bgr)
        img = cv2.resize(img, self.input_size, interpolation=self.spec.interpolation)
        if self.spec.rgb:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x = img.astype(np.float32) * (1.0 / 255.0)
        x = x[None] if self.nhwc else x.transpose(2, 0, 1)[None]
        return np.ascontiguousarray(x)

    def decode(self, outputs: list[np.ndarray]) -> decoders.Decoded:
        """Raw session outputs -> normalised boxes, scores, class ids (before NMS)."""
        thr = self.score_threshold
        if self.kind == "fastestdet":
            return decoders.decode_fastestdet(outputs[0], thr)
        # yolov4-tiny: tell the two layouts apart from the actual arrays.
        by_last = {o.shape[-1]: o for o in outputs}
        if len(outputs) == 2 and 4 in by_last and len(self.class_names) in by_last:
            return decoders.decode_boxes_confs(by_last[4], by_last[len(self.class_names)], thr)
        return decoders.decode_yolo_heads(
            list(outputs),
            self.input_size,
            thr,
            decoders.YoloHeadSpec(num_classes=len(self.class_names)),
        )

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Detect objects in a BGR image; best score first, after class-wise NMS."""
        h, w = image_bgr.shape[:2]
        outputs = self.session.run(self.output_names, {self.input_name: self.preprocess(image_bgr)})
        boxes, scores, ids = self.decode(outputs)
        keep = decoders.batched_nms(boxes, scores, ids, self.nms_iou)
        scale = np.array([w, h, w, h], np.float32)
        result = []
        for i in keep:
            x1, y1, x2, y2 = np.clip(boxes[i] * scale, 0, scale).tolist()
            cid = int(ids[i])
            label = self.class_names[cid] if cid < len(self.class_names) else str(cid)
            result.append(Detection(label, cid, float(scores[i]), (x1, y1, x2, y2)))
        return result


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept BGR, grey or BGRA uint8 images; reject anything else with a clear message."""
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise ValueError("image must be a non-empty numpy array (H, W, 3) in BGR order")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0-255), got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(
        f"image must be (H, W, 3) BGR, (H, W) grey or (H, W, 4) BGRA, got {image.shape}"
    )
