"""Tests for functions/object_detector: decoding on synthetic tensors, NMS, and the real FastestDet.

YOLOv4-tiny has no model file here, so its decoding and the Detector plumbing are tested
with planted tensors and a fake onnxruntime session.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so `pytest` works from any folder without an install
    sys.path.insert(0, str(ROOT))

from functions.object_detector import decoders  # noqa: E402
from functions.object_detector.detector import (  # noqa: E402
    Detection,
    Detector,
    infer_kind,
    load_image,
)

NEG = -30.0  # logit that makes sigmoid ~0


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


# --- fake onnxruntime session -------------------------------------------------------


@dataclass
class _Node:
    name: str
    shape: list


class FakeSession:
    """Mimics the bits of onnxruntime.InferenceSession that Detector uses."""

    def __init__(self, input_shape, outputs: dict[str, np.ndarray], declared=None):
        self.inputs = [_Node("images", input_shape)]
        self.outputs = outputs
        self.declared = declared or {k: list(v.shape) for k, v in outputs.items()}
        self.fed = None

    def get_inputs(self):
        return self.inputs

    def get_outputs(self):
        return [_Node(k, s) for k, s in self.declared.items()]

    def run(self, names, feed):
        self.fed = feed
        return [self.outputs[n] for n in names]


# --- planted tensors ---------------------------------------------------------------


def yolo_head(grid: int, plants=()) -> np.ndarray:
    """A darknet NCHW head [1,255,grid,grid] of 'nothing here' with planted objects.

    Each plant is (gy, gx, anchor_slot, class_id, obj, cls, tx, ty, tw, th) with
    obj/cls as probabilities and t* as raw logits.
    """
    head = np.full((3, 85, grid, grid), NEG, np.float32)
    head[:, 0:4] = 0.0
    for gy, gx, a, cid, obj, cls, tx, ty, tw, th in plants:
        head[a, 0:4, gy, gx] = (tx, ty, tw, th)
        head[a, 4, gy, gx] = _logit(obj)
        head[a, 5 + cid, gy, gx] = _logit(cls)
    return head.reshape(1, 255, grid, grid)


def fastestdet_out(plants=()) -> np.ndarray:
    """FastestDet output [1,85,22,22] with plants (gy, gx, class_id, obj, cls, tx, ty, tw, th)."""
    out = np.zeros((1, 85, 22, 22), np.float32)
    out[0, 5:] = 1.0 / 80  # softmaxed classes: uniform
    for gy, gx, cid, obj, cls, tx, ty, tw, th in plants:
        out[0, 0, gy, gx] = obj
        out[0, 1:5, gy, gx] = (tx, ty, tw, th)
        out[0, 5:, gy, gx] = (1 - cls) / 79
        out[0, 5 + cid, gy, gx] = cls
    return out


# --- FastestDet decoding ---------------------------------------------------------


def test_fastestdet_decode_planted():
    out = fastestdet_out([(10, 4, 15, 0.9, 0.8, 0.0, 0.5, 0.0, _logit(0.25))])
    boxes, scores, ids = decoders.decode_fastestdet(out, 0.65)
    assert ids.tolist() == [15]
    assert scores[0] == pytest.approx(0.9**0.6 * 0.8**0.4, rel=1e-5)
    cx, cy, w, h = 4 / 22, (10 + np.tanh(0.5)) / 22, 0.5, 0.25
    assert boxes[0] == pytest.approx([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], abs=1e-6)
    assert decoders.decode_fastestdet(out, 0.9)[0].shape == (0, 4)  # threshold


def test_fastestdet_detector_end_to_end_with_fake_session():
    out = fastestdet_out([(11, 11, 0, 0.95, 0.9, 0.0, 0.0, 0.0, 0.0)])  # centred, 0.5 x 0.5
    sess = FakeSession([1, 3, 352, 352], {"758": out})
    det = Detector(sess)  # kind auto
    assert det.kind == "fastestdet" and det.score_threshold == 0.65 and det.input_size == (352, 352)
    img = np.zeros((300, 400, 3), np.uint8)
    img[..., 0] = 255  # pure blue in BGR
    (d,) = det.detect(img)
    x = sess.fed["images"]
    assert x.shape == (1, 3, 352, 352) and x.dtype == np.float32
    assert x[0, 0].min() == 1.0 and x[0, 2].max() == 0.0  # BGR order kept, /255
    assert d.label == "person" and d.box == pytest.approx((100, 75, 300, 225), abs=1e-3)


# --- YOLOv4-tiny raw heads ---------------------------------------------------------

# Planted object: 13x13 head, cell (gy=5, gx=7), anchor slot 1 of mask (3,4,5) = anchor 4 (135x169).
PLANT13 = (5, 7, 1, 15, 0.9, 0.8, 0.0, 0.0, 0.0, 0.0)


def _expected_plant13():
    s = decoders.YOLOV4_TINY_SCALE_XY
    cx = (0.5 * s - 0.5 * (s - 1) + 7) / 13
    cy = (0.5 * s - 0.5 * (s - 1) + 5) / 13
    w, h = 135 / 416, 169 / 416
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_yolo_heads_planted_box_label_score():
    heads = [yolo_head(13, [PLANT13]), yolo_head(26)]
    boxes, scores, ids = decoders.decode_yolo_heads(heads, (416, 416), 0.4)
    assert ids.tolist() == [15] and scores[0] == pytest.approx(0.72, rel=1e-5)
    assert boxes[0] == pytest.approx(_expected_plant13(), abs=1e-6)
    # head order in the model's outputs does not matter
    b2, s2, i2 = decoders.decode_yolo_heads(heads[::-1], (416, 416), 0.4)
    assert np.allclose(b2, boxes) and np.allclose(s2, scores) and i2.tolist() == [15]


def test_yolo_heads_fine_grid_uses_mask_123_and_offsets():
    # 26x26 head, slot 0 of mask (1,2,3) = anchor 1 (23x27); tx, ty, tw, th non-zero.
    tx, ty, tw, th = 1.0, -1.0, 0.5, -0.5
    heads = [yolo_head(13), yolo_head(26, [(20, 3, 0, 2, 0.8, 0.9, tx, ty, tw, th)])]
    boxes, scores, ids = decoders.decode_yolo_heads(heads, (416, 416), 0.4)
    s = 1.05
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    cx = (sig(tx) * s - 0.5 * (s - 1) + 3) / 26
    cy = (sig(ty) * s - 0.5 * (s - 1) + 20) / 26
    w, h = 23 * np.exp(tw) / 416, 27 * np.exp(th) / 416
    assert ids.tolist() == [2] and scores[0] == pytest.approx(0.72, rel=1e-5)
    assert boxes[0] == pytest.approx([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], abs=1e-6)


def test_yolo_heads_5d_layout_matches_nchw():
    nchw = [yolo_head(13, [PLANT13]), yolo_head(26)]
    # [1,255,H,W] -> [1,H,W,3,85] (ONNX-zoo style)
    nhwc = [h.reshape(1, 3, 85, h.shape[2], h.shape[3]).transpose(0, 3, 4, 1, 2) for h in nchw]
    a = decoders.decode_yolo_heads(nchw, (416, 416), 0.4)
    b = decoders.decode_yolo_heads(nhwc, (416, 416), 0.4)
    assert all(np.allclose(x, y) for x, y in zip(a, b, strict=True))


def test_yolo_heads_threshold():
    heads = [yolo_head(13, [PLANT13]), yolo_head(26)]  # score 0.72
    assert len(decoders.decode_yolo_heads(heads, (416, 416), 0.7)[1]) == 1
    assert len(decoders.decode_yolo_heads(heads, (416, 416), 0.75)[1]) == 0


def _yolo_detector(plants26, threshold=None):
    outs = {"out13": yolo_head(13), "out26": yolo_head(26, plants26)}
    return Detector(FakeSession([1, 3, 416, 416], outs), score_threshold=threshold)


def test_nms_suppresses_same_class_duplicates():
    # Same anchor in neighbouring cells: boxes shifted by 1/26 of a 81x82 box overlap a lot.
    det = _yolo_detector(
        [(10, 10, 2, 0, 0.9, 0.9, 0, 0, 0, 0), (10, 11, 2, 0, 0.8, 0.9, 0, 0, 0, 0)]
    )
    assert det.kind == "yolov4-tiny"
    dets = det.detect(np.zeros((416, 416, 3), np.uint8))
    assert [d.label for d in dets] == ["person"] and dets[0].score == pytest.approx(0.81, rel=1e-5)


def test_nms_keeps_overlapping_boxes_of_different_classes():
    det = _yolo_detector(
        [(10, 10, 2, 0, 0.9, 0.9, 0, 0, 0, 0), (10, 11, 2, 15, 0.8, 0.9, 0, 0, 0, 0)]
    )
    dets = det.detect(np.zeros((416, 416, 3), np.uint8))
    assert [d.label for d in dets] == ["person", "cat"]


def test_yolo_detector_rgb_input_and_clipping():
    # A huge box (anchor 5 is 344x319, times e^1) at the corner must be clipped to the image.
    outs = {"a": yolo_head(13, [(0, 0, 2, 3, 0.9, 0.9, 0, 0, 1.0, 1.0)]), "b": yolo_head(26)}
    sess = FakeSession([1, 3, 416, 416], outs)
    det = Detector(sess, kind="yolov4-tiny")
    img = np.zeros((240, 320, 3), np.uint8)
    img[..., 0] = 255  # blue in BGR
    (d,) = det.detect(img)
    x = sess.fed["images"]
    assert x.shape == (1, 3, 416, 416) and x[0, 2].min() == 1.0 and x[0, 0].max() == 0.0  # RGB
    assert d.label == "motorbike" and d.box[0] == 0 and d.box[1] == 0
    assert d.box[2] <= 320 and d.box[3] <= 240


def test_boxes_confs_layout():
    n = 50
    boxes = np.zeros((1, n, 1, 4), np.float32)
    confs = np.zeros((1, n, 80), np.float32)
    boxes[0, 7, 0] = (0.1, 0.2, 0.5, 0.6)
    confs[0, 7, 41] = 0.7
    confs[0, 8, 5] = 0.3  # below the 0.4 default
    sess = FakeSession(
        [1, 3, 416, 416],
        {"boxes": boxes, "confs": confs},
        declared={"boxes": ["batch", n, 1, 4], "confs": ["batch", n, 80]},
    )
    det = Detector(sess)
    assert det.kind == "yolov4-tiny" and det.score_threshold == 0.4
    (d,) = det.detect(np.zeros((200, 100, 3), np.uint8))
    assert d.label == "cup" and d.score == pytest.approx(0.7)
    assert d.box == pytest.approx((10, 40, 50, 120), abs=1e-4)
    assert d.to_dict() == {"label": "cup", "class_id": 41, "score": 0.7, "box": [10, 40, 50, 120]}


def test_infer_kind():
    assert infer_kind([(1, 85, 22, 22)]) == "fastestdet"
    assert infer_kind([(1, 255, 13, 13), (1, 255, 26, 26)]) == "yolov4-tiny"
    assert infer_kind([(1, 13, 13, 3, 85), (1, 26, 26, 3, 85)]) == "yolov4-tiny"
    assert infer_kind([(None, 2535, 1, 4), (None, 2535, 80)]) == "yolov4-tiny"
    with pytest.raises(ValueError, match="pass kind="):
        infer_kind([(1, 1000)])


# --- NMS in isolation ----------------------------------------------------------


def test_batched_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    ids = np.array([1, 1, 2, 1])
    assert decoders.batched_nms(boxes, scores, ids, 0.45).tolist() == [0, 2, 3]
    assert decoders.nms(boxes, scores, 0.45).tolist() == [0, 3]
    assert decoders.nms(boxes, scores, 0.9).tolist() == [0, 1, 3]  # IoU 0.82 kept at 0.9
    assert (
        decoders.batched_nms(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0), 0.5).size == 0
    )


# --- images and misc ---------------------------------------------------------------


def test_load_image(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :, 2] = 200
    cv2.imwrite(str(tmp_path / "a.png"), img)
    assert np.array_equal(load_image(tmp_path / "a.png"), img)
    with pytest.raises(ValueError, match="not found"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ValueError, match="cannot decode"):
        load_image(tmp_path / "bad.jpg")


def test_detect_rejects_bad_images():
    det = Detector(FakeSession([1, 3, 352, 352], {"758": fastestdet_out()}))
    assert det.detect(np.zeros((50, 60), np.uint8)) == []  # grey is fine
    with pytest.raises(ValueError, match="uint8"):
        det.detect(np.zeros((50, 60, 3), np.float32))
    with pytest.raises(ValueError, match="BGR"):
        det.detect(np.zeros((50, 60, 2), np.uint8))


def test_detection_to_dict_rounds():
    d = Detection("cat", 15, 0.823456, (0.4, 10.6, 422.5, 290.49))
    assert d.to_dict() == {"label": "cat", "class_id": 15, "score": 0.823, "box": [0, 11, 422, 290]}


# --- the real FastestDet on scikit-image photos ------------------------------------


def _fastestdet_path() -> Path:
    for root in (os.environ.get("VSB_MODELS_DIR"), ROOT.parent / "shared" / "models"):
        if root and (Path(root) / "fastestdet" / "FastestDet.onnx").is_file():
            return Path(root) / "fastestdet" / "FastestDet.onnx"
    pytest.skip("FastestDet.onnx not found via $VSB_MODELS_DIR or ../shared/models")


@pytest.fixture(scope="module")
def fastestdet() -> Detector:
    return Detector.load("auto", _fastestdet_path())


def _photo(name: str) -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    rgb = data.stereo_motorcycle()[0] if name == "stereo_motorcycle" else getattr(data, name)()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def letterbox_frame(img: np.ndarray, size=(640, 480)) -> np.ndarray:
    """Scale to fit (keeping aspect) and centre in a black frame, as the synthetic corpus does."""
    fw, fh = size
    h, w = img.shape[:2]
    s = min(fw / w, fh / h)
    nw, nh = round(w * s), round(h * s)
    frame = np.zeros((fh, fw, 3), np.uint8)
    y, x = (fh - nh) // 2, (fw - nw) // 2
    frame[y : y + nh, x : x + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return frame


PHOTOS = [
    ("astronaut", "person"),
    ("chelsea", "cat"),
    ("coffee", "cup"),
    ("stereo_motorcycle", "motorbike"),
    ("rocket", None),
]


def test_fastestdet_loads(fastestdet):
    assert fastestdet.kind == "fastestdet" and fastestdet.input_size == (352, 352)
    assert fastestdet.score_threshold == 0.65 and fastestdet.load_seconds > 0


@pytest.mark.parametrize("name,label", PHOTOS)
@pytest.mark.parametrize("framed", [False, True], ids=["photo", "640x480"])
def test_fastestdet_on_photos(fastestdet, name, label, framed):
    img = _photo(name)
    if framed:
        img = letterbox_frame(img)
    dets = fastestdet.detect(img)
    if label is None:
        assert dets == []
        return
    assert dets and dets[0].label == label and dets[0].score > 0.65
    h, w = img.shape[:2]
    x1, y1, x2, y2 = dets[0].box
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h


def test_fastestdet_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ensure_model"):
        Detector.load("fastestdet", tmp_path / "nope.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot load"):
        Detector.load("fastestdet", tmp_path / "bad.onnx")
