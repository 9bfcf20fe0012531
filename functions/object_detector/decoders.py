"""Pure-numpy decoding of detector outputs, and class-wise NMS.

Every decoder returns three arrays for the kept detections, before NMS:
``boxes`` (N, 4) float32 as x1, y1, x2, y2 *normalised to [0, 1]* of the network
input (which, with the plain resizes used here, is also normalised to the
original image), ``scores`` (N,) float32 and ``class_ids`` (N,) int64.

No torch/torchvision: the function image must stay small and import fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Decoded = tuple[np.ndarray, np.ndarray, np.ndarray]

# darknet cfg/yolov4-tiny.cfg: anchors in network-input pixels (416x416).
YOLOV4_TINY_ANCHORS: tuple[tuple[int, int], ...] = (
    (10, 14),
    (23, 27),
    (37, 58),
    (81, 82),
    (135, 169),
    (344, 319),
)
# [yolo] masks: the coarse 13x13 head uses anchors 3,4,5; the 26x26 head uses
# 1,2,3 (sic: the cfg really reuses anchor 3 and never uses anchor 0).
YOLOV4_TINY_MASKS: tuple[tuple[int, ...], ...] = ((3, 4, 5), (1, 2, 3))
YOLOV4_TINY_SCALE_XY = 1.05


def _empty() -> Decoded:
    return (np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0,), np.int64))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # Clip so exp() cannot overflow on extreme logits.
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50.0, 50.0)))


def decode_fastestdet(out: np.ndarray, score_threshold: float) -> Decoded:
    """Decode FastestDet's single anchor-free head ``[1, 5+C, H, W]``.

    Channel 0 is objectness (sigmoid already applied in the graph), 1-4 are raw
    tx, ty, tw, th, and 5.. are softmaxed class probabilities. Follows upstream
    ``utils/tool.py::handle_preds``: score = obj**0.6 * max(cls)**0.4,
    cx = (gx + tanh(tx)) / W, w = sigmoid(tw). Keeps score > threshold.
    """
    if out.ndim != 4 or out.shape[0] != 1 or out.shape[1] < 6:
        raise ValueError(f"FastestDet output must be [1, 5+C, H, W], got {list(out.shape)}")
    pred = out[0].astype(np.float32, copy=False)
    _, gh, gw = pred.shape
    obj = pred[0]
    cls = pred[5:]
    class_ids = cls.argmax(axis=0)
    cls_max = cls.max(axis=0)
    # Clamp at 0: tiny negative values from the graph would make ** produce NaN.
    scores = np.maximum(obj, 0) ** 0.6 * np.maximum(cls_max, 0) ** 0.4
    gy, gx = np.nonzero(scores > score_threshold)
    if gy.size == 0:
        return _empty()
    tx, ty, tw, th = (pred[k, gy, gx] for k in range(1, 5))
    cx = (gx + np.tanh(tx)) / gw
    cy = (gy + np.tanh(ty)) / gh
    w = _sigmoid(tw)
    h = _sigmoid(th)
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return (
        boxes.astype(np.float32),
        scores[gy, gx].astype(np.float32),
        class_ids[gy, gx].astype(np.int64),
    )


@dataclass(frozen=True)
class YoloHeadSpec:
    """Anchor geometry of a darknet YOLO model with raw ``[yolo]`` heads."""

    anchors: tuple[tuple[int, int], ...] = YOLOV4_TINY_ANCHORS
    masks: tuple[tuple[int, ...], ...] = YOLOV4_TINY_MASKS  # coarsest grid first
    scale_x_y: float = YOLOV4_TINY_SCALE_XY
    num_classes: int = 80


def _head_to_grid(head: np.ndarray, num_anchors: int, num_attrs: int) -> np.ndarray:
    """Return a raw head as ``(A, H, W, 5+C)`` whatever its export layout."""
    if head.shape[0] != 1:
        raise ValueError(f"batch size must be 1, got head {list(head.shape)}")
    if head.ndim == 4 and head.shape[1] == num_anchors * num_attrs:
        # darknet / NCHW: channel = anchor * (5+C) + attribute
        _, _, gh, gw = head.shape
        return head[0].reshape(num_anchors, num_attrs, gh, gw).transpose(0, 2, 3, 1)
    if head.ndim == 5 and head.shape[3:] == (num_anchors, num_attrs):
        # ONNX-zoo style [1, H, W, A, 5+C]
        return head[0].transpose(2, 0, 1, 3)
    if head.ndim == 5 and head.shape[1] == num_anchors and head.shape[4] == num_attrs:
        # [1, A, H, W, 5+C] (ultralytics-style)
        return head[0]
    raise ValueError(
        f"unrecognised YOLO head shape {list(head.shape)}: expected "
        f"[1,{num_anchors * num_attrs},H,W], "
        f"[1,H,W,{num_anchors},{num_attrs}] or [1,{num_anchors},H,W,{num_attrs}]"
    )


def decode_yolo_heads(
    heads: list[np.ndarray],
    input_size: tuple[int, int],
    score_threshold: float,
    spec: YoloHeadSpec = YoloHeadSpec(),
) -> Decoded:
    """Decode raw darknet ``[yolo]`` heads (logits, nothing applied in the graph).

    ``input_size`` is the network input as (width, height). Heads are matched to
    ``spec.masks`` by grid size, coarsest first, so their output order does not
    matter. Per cell and anchor: sigmoid on tx, ty, obj and classes;
    bx = (sigmoid(tx) * s - 0.5 * (s - 1) + gx) / grid_w with s = scale_x_y;
    bw = anchor_w * exp(tw) / net_w; score = obj * max(cls), one label per box.
    """
    if len(heads) != len(spec.masks):
        raise ValueError(f"expected {len(spec.masks)} YOLO heads, got {len(heads)}")
    net_w, net_h = input_size
    num_attrs = 5 + spec.num_classes
    s = spec.scale_x_y
    grids = [
        _head_to_grid(np.asarray(h, np.float32), len(m), num_attrs)
        for h, m in zip(heads, spec.masks, strict=True)
    ]
    grids.sort(key=lambda g: g.shape[1])  # coarsest grid first, to match spec.masks
    all_boxes, all_scores, all_ids = [], [], []
    for grid, mask in zip(grids, spec.masks, strict=True):
        _, gh, gw, _ = grid.shape
        obj = _sigmoid(grid[..., 4])
        # Cheap pre-filter: score = obj * cls <= obj, so cells with a low obj can't pass.
        a, gy, gx = np.nonzero(obj > score_threshold)
        if a.size == 0:
            continue
        cell = grid[a, gy, gx]  # (K, 5+C)
        cls = _sigmoid(cell[:, 5:])
        ids = cls.argmax(axis=1)
        scores = obj[a, gy, gx] * cls[np.arange(len(ids)), ids]
        keep = scores > score_threshold
        if not keep.any():
            continue
        cell, a, gy, gx, ids, scores = (
            cell[keep],
            a[keep],
            gy[keep],
            gx[keep],
            ids[keep],
            scores[keep],
        )
        anchors = np.asarray([spec.anchors[m] for m in mask], np.float32)[a]
        cx = (_sigmoid(cell[:, 0]) * s - 0.5 * (s - 1) + gx) / gw
        cy = (_sigmoid(cell[:, 1]) * s - 0.5 * (s - 1) + gy) / gh
        w = anchors[:, 0] * np.exp(np.clip(cell[:, 2], -50.0, 20.0)) / net_w
        h = anchors[:, 1] * np.exp(np.clip(cell[:, 3], -50.0, 20.0)) / net_h
        all_boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        all_scores.append(scores)
        all_ids.append(ids)
    if not all_boxes:
        return _empty()
    return (
        np.concatenate(all_boxes).astype(np.float32),
        np.concatenate(all_scores).astype(np.float32),
        np.concatenate(all_ids).astype(np.int64),
    )


def decode_boxes_confs(boxes: np.ndarray, confs: np.ndarray, score_threshold: float) -> Decoded:
    """Decode the post-processed export layout (e.g. Tianxiaomo/pytorch-YOLOv4).

    ``boxes`` is ``[1, N, 1, 4]`` or ``[1, N, 4]``, normalised x1, y1, x2, y2;
    ``confs`` is ``[1, N, C]`` holding obj * cls already. One label per box
    (argmax), kept when its confidence > threshold.
    """
    if boxes.shape[0] != 1 or confs.shape[0] != 1:
        raise ValueError(
            f"batch size must be 1, got boxes {list(boxes.shape)}, confs {list(confs.shape)}"
        )
    b = boxes.reshape(-1, 4).astype(np.float32, copy=False)
    c = confs.reshape(confs.shape[1], -1).astype(np.float32, copy=False)
    if len(b) != len(c):
        raise ValueError(
            f"boxes and confs disagree on N: {list(boxes.shape)} vs {list(confs.shape)}"
        )
    ids = c.argmax(axis=1)
    scores = c[np.arange(len(ids)), ids]
    keep = scores > score_threshold
    return b[keep], scores[keep], ids[keep].astype(np.int64)


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one x1y1x2y2 box against an (N, 4) array."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS; returns kept indices, highest score first.

    A box is dropped when its IoU with a kept box is > ``iou_threshold``
    (same rule as torchvision.ops.nms).
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[i], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Class-wise NMS (boxes of different classes never suppress each other).

    Uses torchvision's offset trick: shift each class's boxes into a disjoint
    region so one NMS pass handles all classes. Returns indices, best first.
    """
    if boxes.shape[0] == 0:
        return np.zeros((0,), np.int64)
    offset = float(boxes.max() - boxes.min()) + 1.0
    shifted = boxes + (class_ids.astype(boxes.dtype) * offset)[:, None]
    return nms(shifted, scores, iou_threshold)
