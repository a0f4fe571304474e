"""Face detection (BlazeFace, SSD-style): an image -> faces with boxes, scores and landmarks.

Pre-processing letterboxes the upright image into the model's square input (black bars keep
the aspect ratio) and scales pixels to ``output_range``. Post-processing is MediaPipe's
(``ssd_anchors_calculator``, ``tensors_to_detections_calculator``, weighted NMS), written in
numpy: SSD anchors from the manifest's options; each anchor's raw regression (center offset,
size and keypoint offsets, in input pixels) decoded relative to its anchor; the clipped
logit through a sigmoid; detections above ``min_score`` merged by weighted non-maximum
suppression (overlapping detections averaged by score); the letterbox removed; coordinates
in pixels of the image as sent (after its EXIF orientation), clipped to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams
from aiaas_runtime.tasks.image import check_request_pixels, encoded_image

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class FaceImage:
    """One letterboxed image and what it takes to map detections back onto the original."""

    tensor: Floats  # [channels, size, size]
    width: int
    height: int
    pad_x: float  # fraction of the input width added on each side
    pad_y: float


def ssd_anchors(options: dict[str, Any]) -> Floats:
    """Anchor centers [n, 2] (x, y in 0..1), as MediaPipe's SsdAnchorsCalculator makes them
    with fixed anchor sizes: per stride group, every feature map cell repeated per anchor."""
    strides = [int(s) for s in options["strides"]]
    height, width = int(options["input_size_height"]), int(options["input_size_width"])
    offset_x, offset_y = float(options["anchor_offset_x"]), float(options["anchor_offset_y"])
    interpolated = float(options["interpolated_scale_aspect_ratio"])
    anchors: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        last, repeats = layer, 0
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
            repeats += 2 if interpolated == 1.0 else 1
        rows, cols = height // strides[layer], width // strides[layer]
        for y in range(rows):
            for x in range(cols):
                center = ((x + offset_x) / cols, (y + offset_y) / rows)
                anchors.extend([center] * repeats)
        layer = last
    return np.asarray(anchors, dtype=np.float32)


def decode(raw_boxes: Floats, anchors: Floats, size: int) -> Floats:
    """Raw regressions [n, 4 + 2k] -> [n, 2 + k, 2]: (xmin, ymin), (xmax, ymax), keypoints,
    all in 0..1 of the (letterboxed) input."""
    points = raw_boxes.shape[-1] // 2
    boxes = raw_boxes.reshape(-1, points, 2).astype(np.float32) / np.float32(size)
    boxes[:, 0] += anchors
    boxes[:, 2:] += anchors[:, None, :]
    center, half = boxes[:, 0].copy(), boxes[:, 1] / 2
    boxes[:, 0] = center - half
    boxes[:, 1] = center + half
    return boxes


def iou(box: Floats, others: Floats) -> Floats:
    """Intersection over union of one [2, 2] box with each of [m, 2, 2]."""
    low = np.maximum(box[0], others[:, 0])
    high = np.minimum(box[1], others[:, 1])
    inter = np.clip(high - low, 0, None).prod(axis=1)
    area = (box[1] - box[0]).prod()
    areas = (others[:, 1] - others[:, 0]).prod(axis=1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0).astype(np.float32)


def weighted_nms(
    detections: Floats, scores: Floats, threshold: float
) -> list[tuple[Floats, float]]:
    """MediaPipe's weighted NMS: the best remaining detection and every one overlapping it by
    more than ``threshold`` are merged into their score-weighted mean (keeping the best's
    score), until none remain. Detections arrive already filtered by score."""
    order = np.argsort(-scores, kind="stable")
    remaining = order
    kept: list[tuple[Floats, float]] = []
    while remaining.size:
        best = remaining[0]
        overlap = iou(detections[best], detections[remaining]) > threshold
        group = remaining[overlap]
        weights = scores[group][:, None, None]
        merged = (detections[group] * weights).sum(axis=0) / weights.sum()
        kept.append((merged.astype(np.float32), float(scores[best])))
        remaining = remaining[~overlap]
    return kept


class FaceDetectionProcessor:
    """Letterboxes images into BlazeFace's input and turns its raw outputs into faces."""

    def __init__(self, manifest: ModelManifest) -> None:
        pre, post = manifest.preprocessing, manifest.postprocessing
        self.input = str(pre.get("input", manifest.inputs[0].name))
        self.size = int(pre["height"])
        low, high = (float(v) for v in pre.get("output_range", (-1.0, 1.0)))
        self.scale, self.offset = np.float32((high - low) / 255.0), np.float32(low)
        # the same as the classifiers' mean and std of pixels / 255 (heatmaps draw with them)
        self.mean, self.std = np.float32(-low / (high - low)), np.float32(1 / (high - low))
        self.boxes, self.scores = str(post["boxes"]), str(post["scores"])
        self.anchors = ssd_anchors(post["anchors"])
        self.score_limit = float(post.get("raw_score_limit", 80.0))
        self.min_score = float(post.get("min_score", 0.5))
        self.nms = float(post.get("nms_threshold", 0.3))
        self.max_faces = int(post.get("max_faces", 100))
        self.landmarks = tuple(str(n) for n in post.get("landmarks", ()))

    def check_params(self, params: PredictParams) -> None:
        """``min_score`` in (0, 1]; ``max_faces`` at least 1; nothing else applies."""
        if params.min_score is not None and not 0 < params.min_score <= 1:
            raise InvalidInputError("min_score must be above 0 and at most 1", param="min_score")
        if params.max_faces is not None and not 1 <= params.max_faces <= self.max_faces:
            raise InvalidInputError(
                f"max_faces must be between 1 and {self.max_faces}", param="max_faces"
            )

    def check_request(self, items: Sequence[Any]) -> None:
        """Refuse a request of too many pixels in all (`check_request_pixels`)."""
        check_request_pixels(items)

    def prepare(self, item: Any, index: int) -> FaceImage:
        """Decode, letterbox to the input's square, scale to its range: ``[3, size, size]``."""
        from PIL import Image  # noqa: PLC0415 - image models only

        image = encoded_image(item, index, "RGB")
        width, height = image.size
        side = max(width, height)
        pad_x, pad_y = (side - width) / 2 / side, (side - height) / 2 / side
        square = Image.new("RGB", (side, side))
        square.paste(image, (int(pad_x * side), int(pad_y * side)))
        resized = square.resize((self.size, self.size), Image.Resampling.BILINEAR)
        pixels = np.asarray(resized, dtype=np.float32) * self.scale + self.offset
        return FaceImage(pixels.transpose(2, 0, 1).copy(), width, height, pad_x, pad_y)

    def length(self, prepared: FaceImage) -> int:
        """Every image costs the same after letterboxing."""
        return 1

    def collate(self, prepared: Sequence[FaceImage]) -> Feeds:
        """Stack into ``[batch, 3, size, size]``."""
        return {self.input: np.stack([p.tensor for p in prepared])}

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Faces in the letterboxed input's 0..1 coordinates (no image to map them onto)."""
        count = np.asarray(outputs[self.boxes]).shape[0]
        square = FaceImage(np.empty(0, np.float32), 1, 1, 0.0, 0.0)
        return self.postprocess_items(outputs, params, [square] * count)

    def postprocess_items(
        self, outputs: Outputs, params: PredictParams, items: Sequence[FaceImage]
    ) -> list[dict[str, Any]]:
        """Faces of each image, best first, in its own pixel coordinates."""
        raw_boxes = np.asarray(outputs[self.boxes], dtype=np.float32)
        raw_scores = np.asarray(outputs[self.scores], dtype=np.float32)
        min_score = params.min_score if params.min_score is not None else self.min_score
        limit = params.max_faces or self.max_faces
        results = []
        for row, item in enumerate(items):
            logits = np.clip(raw_scores[row].reshape(-1), -self.score_limit, self.score_limit)
            scores = 1 / (1 + np.exp(-logits))
            boxes = decode(raw_boxes[row], self.anchors, self.size)
            keep = (scores > min_score) & np.all(boxes[:, 1] > boxes[:, 0], axis=1)
            merged = weighted_nms(boxes[keep], scores[keep].astype(np.float32), self.nms)
            results.append({"faces": [self._face(d, s, item) for d, s in merged[:limit]]})
        return results

    def _face(self, detection: Floats, score: float, item: FaceImage) -> dict[str, Any]:
        """Letterbox removed, then pixels of the image as sent, clipped to it."""
        span = np.array([1 - 2 * item.pad_x, 1 - 2 * item.pad_y], dtype=np.float32)
        points = (detection - np.array([item.pad_x, item.pad_y], np.float32)) / span
        points = np.clip(points * np.array([item.width, item.height], np.float32), 0, None)
        points = np.minimum(points, np.array([item.width, item.height], np.float32))
        (x1, y1), (x2, y2) = points[0].tolist(), points[1].tolist()
        face: dict[str, Any] = {
            "box": [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)],
            "score": round(score, 6),
            "landmarks": [[round(x, 2), round(y, 2)] for x, y in points[2:].tolist()],
        }
        return face
