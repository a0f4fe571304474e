"""Object detection for uploaded detectors: an image -> objects with boxes, labels and scores.

The owner declares the output format (``postprocessing.detection``):

- ``yolo`` (ultralytics' ONNX export): one output ``[1, 4 + classes, anchors]``, each anchor's
  ``cx, cy, w, h`` in input pixels then its class scores; the best class is the anchor's.
- ``ssd``: ``boxes`` ``[1, n, 4]``, ``scores`` ``[1, n]`` and ``classes`` ``[1, n]``; boxes
  ``yxyx`` in 0..1 unless declared otherwise (``box_format``, ``normalized``).

Pre-processing resizes to the declared ``height`` x ``width`` (``stretch``) or keeps the aspect
ratio with gray bars (``letterbox``, ultralytics' 114 by default), then
``(pixels / 255 - mean) / std``. Post-processing keeps detections above ``min_score``,
applies non-maximum suppression per class at ``iou_threshold``, and maps boxes back onto the
image as sent (after its EXIF orientation), clipped to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError, ModelLoadError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams
from aiaas_runtime.tasks.image import check_request_pixels, encoded_image

Floats = npt.NDArray[np.float32]
MAX_OBJECTS = 1000


@dataclass(frozen=True, slots=True)
class Placed:
    """One image resized into the model's input, and how to map boxes back onto it."""

    tensor: Floats  # [channels, height, width]
    width: int
    height: int
    scale_x: float  # input pixels per image pixel
    scale_y: float
    left: float  # letterbox bars, in input pixels
    top: float


def nms(boxes: Floats, scores: Floats, threshold: float) -> list[int]:
    """Greedy non-maximum suppression: indices kept, best first ([n, 4] ``xyxy`` boxes)."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )
    kept: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        kept.append(best)
        low = np.maximum(boxes[best, :2], boxes[rest, :2])
        high = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.clip(high - low, 0, None).prod(axis=1)
        union = areas[best] + areas[rest] - inter
        overlap = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
        order = rest[overlap <= threshold]
    return kept


def to_xyxy(boxes: Floats, box_format: str) -> Floats:
    """[n, 4] boxes in ``xyxy``, ``yxyx`` or ``cxcywh`` as ``xyxy``."""
    if box_format == "yxyx":
        return boxes[:, [1, 0, 3, 2]]
    if box_format == "cxcywh":
        cx, cy, w, h = boxes.T
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    return boxes


class ObjectDetectionProcessor:
    """Resizes images into a detector's input and decodes its outputs into objects."""

    def __init__(self, manifest: ModelManifest) -> None:
        pre = manifest.preprocessing
        spec = dict(manifest.postprocessing.get("detection") or {})
        if spec.get("format") not in ("yolo", "ssd"):
            raise ModelLoadError(
                f"model {manifest.name!r}: object detection needs detection.format yolo or ssd"
            )
        self.format = str(spec["format"])
        self.input = str(pre.get("input", manifest.inputs[0].name))
        self.height, self.width = int(pre["height"]), int(pre["width"])
        self.channels = int(pre.get("channels", 3))
        self.letterbox = pre.get("resize", "letterbox" if self.format == "yolo" else "stretch")
        self.letterbox = self.letterbox == "letterbox"
        self.pad_value = int(pre.get("pad_value", 114))
        self.mean = np.asarray(pre.get("mean", [0.0]), dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(pre.get("std", [1.0]), dtype=np.float32).reshape(-1, 1, 1)
        names = [o.name for o in manifest.outputs]
        self.outputs: tuple[str, ...]
        if self.format == "yolo":
            self.outputs = (str(spec.get("output") or names[0]),)
        else:
            self.outputs = tuple(
                str(spec.get(role) or role) for role in ("boxes", "scores", "classes")
            )
        missing = [n for n in self.outputs if n not in names]
        if missing:
            raise ModelLoadError(
                f"model {manifest.name!r}: no output named {missing[0]!r}; its outputs are {names}"
            )
        default_format = "cxcywh" if self.format == "yolo" else "yxyx"
        self.box_format = str(spec.get("box_format") or default_format)
        self.normalized = bool(spec.get("normalized", self.format == "ssd"))
        self.iou_threshold = float(spec.get("iou_threshold", 0.45))
        self.min_score = float(spec.get("min_score", 0.25))
        self.labels = manifest.labels

    def check_params(self, params: PredictParams) -> None:
        """``min_score`` in (0, 1]; ``max_objects`` from 1 to ``MAX_OBJECTS``."""
        if params.min_score is not None and not 0 < params.min_score <= 1:
            raise InvalidInputError("min_score must be above 0 and at most 1", param="min_score")
        if params.max_objects is not None and not 1 <= params.max_objects <= MAX_OBJECTS:
            raise InvalidInputError(
                f"max_objects must be between 1 and {MAX_OBJECTS}", param="max_objects"
            )

    def check_request(self, items: Sequence[Any]) -> None:
        """Refuse a request of too many pixels in all (`check_request_pixels`)."""
        check_request_pixels(items)

    def prepare(self, item: Any, index: int) -> Placed:
        """Decode, resize (stretched or letterboxed) and normalize one image."""
        from PIL import Image  # noqa: PLC0415 - image models only

        image = encoded_image(item, index, "L" if self.channels == 1 else "RGB")
        width, height = image.size
        if self.letterbox:
            scale = min(self.width / width, self.height / height)
            inner = (max(1, round(width * scale)), max(1, round(height * scale)))
            left, top = (self.width - inner[0]) / 2, (self.height - inner[1]) / 2
            fill = self.pad_value if self.channels == 1 else (self.pad_value,) * 3
            canvas = Image.new(image.mode, (self.width, self.height), fill)
            canvas.paste(image.resize(inner, Image.Resampling.BILINEAR), (round(left), round(top)))
            placed, scale_x, scale_y = canvas, scale, scale
            left, top = float(round(left)), float(round(top))
        else:
            placed = image.resize((self.width, self.height), Image.Resampling.BILINEAR)
            scale_x, scale_y, left, top = self.width / width, self.height / height, 0.0, 0.0
        pixels = np.asarray(placed, dtype=np.float32).reshape(self.height, self.width, -1)
        chw = pixels.transpose(2, 0, 1) / np.float32(255.0)  # pixels / pixel_max, encoded
        tensor = ((chw - self.mean) / self.std).astype(np.float32)
        return Placed(tensor, width, height, scale_x, scale_y, left, top)

    def length(self, prepared: Placed) -> int:
        """Every image costs the same after resizing."""
        return 1

    def collate(self, prepared: Sequence[Placed]) -> Feeds:
        """Stack into ``[batch, channels, height, width]``."""
        return {self.input: np.stack([p.tensor for p in prepared])}

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Objects in input pixels (no image to map them onto)."""
        count = np.asarray(outputs[self.outputs[0]]).shape[0]
        same = Placed(np.empty(0, np.float32), self.width, self.height, 1.0, 1.0, 0.0, 0.0)
        return self.postprocess_items(outputs, params, [same] * count)

    def postprocess_items(
        self, outputs: Outputs, params: PredictParams, items: Sequence[Placed]
    ) -> list[dict[str, Any]]:
        """Each image's objects, best first, in its own pixels."""
        min_score = params.min_score if params.min_score is not None else self.min_score
        limit = params.max_objects or MAX_OBJECTS
        results = []
        for row, item in enumerate(items):
            boxes, scores, classes = self._candidates(outputs, row)
            keep = scores >= min_score
            boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
            chosen: list[int] = []
            for label in np.unique(classes).tolist():
                members = np.flatnonzero(classes == label)
                chosen += [
                    int(members[i])
                    for i in nms(boxes[members], scores[members], self.iou_threshold)
                ]
            chosen.sort(key=lambda i: -float(scores[i]))
            results.append(
                {
                    "objects": [
                        self._object(boxes[i], float(scores[i]), int(classes[i]), item)
                        for i in chosen[:limit]
                    ]
                }
            )
        return results

    def _candidates(
        self, outputs: Outputs, row: int
    ) -> tuple[Floats, Floats, npt.NDArray[np.int64]]:
        """Every candidate of one image: ``xyxy`` boxes in input pixels, scores, classes."""
        if self.format == "yolo":
            raw = np.asarray(outputs[self.outputs[0]][row], dtype=np.float32)  # [4 + c, anchors]
            boxes, class_scores = raw[:4].T, raw[4:].T
            classes = class_scores.argmax(axis=1)
            scores = class_scores[np.arange(len(classes)), classes]
        else:
            boxes = np.asarray(outputs[self.outputs[0]][row], dtype=np.float32).reshape(-1, 4)
            scores = np.asarray(outputs[self.outputs[1]][row], dtype=np.float32).reshape(-1)
            classes = np.asarray(outputs[self.outputs[2]][row]).reshape(-1).round()
        boxes = to_xyxy(boxes, self.box_format)
        if self.normalized:
            boxes = boxes * np.array([self.width, self.height] * 2, dtype=np.float32)
        return boxes.astype(np.float32), scores.astype(np.float32), classes.astype(np.int64)

    def _object(self, box: Floats, score: float, index: int, item: Placed) -> dict[str, Any]:
        x1, x2 = ((box[[0, 2]] - item.left) / item.scale_x).clip(0, item.width).tolist()
        y1, y2 = ((box[[1, 3]] - item.top) / item.scale_y).clip(0, item.height).tolist()
        label = self.labels[index] if 0 <= index < len(self.labels) else str(index)
        return {"box": [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)], "label": label,
                "score": round(score, 6)}  # fmt: skip
