"""OCR (PP-OCRv4, the RapidOCR pipeline): an image -> lines of text with scores and boxes.

Three graphs: text detection (the model's main graph, run by `Model`), the orientation
classifier and the recognizer (the ``cls`` and ``rec`` artifacts, opened here). The steps
are RapidOCR's defaults, in numpy (`aiaas_runtime.tasks.geometry` stands in for OpenCV):

1. the image (BGR, as the models were trained) is brought within ``max_side_len`` and
   ``min_side_len``, and a very flat one padded top and bottom (``width_height_ratio``);
2. detection runs with the shorter side scaled to ``limit_side_len``, sides multiples of 32;
3. DB decoding: the probability map over ``thresh``, dilated 2x2, split into regions; each
   region's minimum-area rectangle, kept when its mean probability reaches ``box_thresh``,
   grown by ``unclip_ratio`` (area x ratio / perimeter on each side);
4. boxes in reading order (top to bottom, left to right within 10 px), each cropped upright
   by a perspective warp (tall crops turned 90 degrees);
5. crops the classifier reads as upside down (score over ``cls.thresh``) are turned 180;
6. recognition in batches of similar widths, greedy CTC decoding with the model's character
   list (blank first, space last); lines under ``text_score`` are dropped.

Boxes are four ``[x, y]`` corners (top-left first, clockwise) in pixels of the image as sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.session import open_session
from aiaas_runtime.tasks import geometry
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams
from aiaas_runtime.tasks.image import check_request_pixels, encoded_image

Floats = npt.NDArray[np.float32]
Points = npt.NDArray[np.float64]  # boxes: [4, 2] corners
Image = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class OcrImage:
    """One image ready for detection, and how to map its boxes back."""

    tensor: Floats  # [3, H, W], the detector's input
    image: Image  # the (resized, padded) BGR image boxes are found and cropped in
    width: int  # of the image as sent
    height: int
    ratio_w: float  # sent pixels per ``image`` pixel
    ratio_h: float
    pad_top: int


def _multiple_of_32(size: float) -> int:
    return int(round(int(size) / 32) * 32)


def _fit(image: Image, scale: float) -> tuple[Image, float, float]:
    """Resize by ``scale`` to sides that are multiples of 32; the ratios back."""
    h, w = image.shape[:2]
    new_h, new_w = _multiple_of_32(h * scale), _multiple_of_32(w * scale)
    if new_h <= 0 or new_w <= 0:
        raise InvalidInputError("the image is too small to read text in", param="inputs")
    return geometry.resize_linear(image, new_w, new_h), h / new_h, w / new_w


class OcrProcessor:
    """Finds text lines with the main graph, reads them with the classifier and recognizer."""

    def __init__(self, manifest: ModelManifest) -> None:
        pre, post = manifest.preprocessing, manifest.postprocessing
        self.input = str(pre.get("input", manifest.inputs[0].name))
        self.limit_side = int(pre.get("limit_side_len", 736))
        self.max_side = int(pre.get("max_side_len", 2000))
        self.min_side = int(pre.get("min_side_len", 30))
        self.min_height = int(pre.get("min_height", 30))
        self.flat_ratio = float(pre.get("width_height_ratio", 8))
        self.mean = np.asarray(pre.get("mean", [0.5] * 3), dtype=np.float32)
        self.std = np.asarray(pre.get("std", [0.5] * 3), dtype=np.float32)
        self.thresh = float(post.get("thresh", 0.3))
        self.box_thresh = float(post.get("box_thresh", 0.5))
        self.max_candidates = int(post.get("max_candidates", 1000))
        self.unclip_ratio = float(post.get("unclip_ratio", 1.6))
        self.dilate = bool(post.get("use_dilation", True))
        self.text_score = float(post.get("text_score", 0.5))
        cls, rec = post.get("cls", {}), post.get("rec", {})
        self.cls_shape = [int(v) for v in cls.get("image_shape", [3, 48, 192])]
        self.cls_batch, self.cls_thresh = int(cls.get("batch", 6)), float(cls.get("thresh", 0.9))
        self.cls_labels = [str(v) for v in cls.get("labels", ["0", "180"])]
        self.rec_shape = [int(v) for v in rec.get("image_shape", [3, 48, 320])]
        self.rec_batch = int(rec.get("batch", 6))
        charset = manifest.artifact_path("charset").read_text(encoding="utf-8").splitlines()
        self.characters = ["blank", *charset, " "]
        self.cls_session = open_session(manifest.artifact_path("cls"), prefer_gpu=False)
        self.rec_session = open_session(manifest.artifact_path("rec"), prefer_gpu=False)

    def check_params(self, params: PredictParams) -> None:
        """``min_score`` (the lowest line score kept) in (0, 1]; nothing else applies."""
        if params.min_score is not None and not 0 < params.min_score <= 1:
            raise InvalidInputError("min_score must be above 0 and at most 1", param="min_score")

    def check_request(self, items: Sequence[Any]) -> None:
        """Refuse a request of too many pixels in all (`check_request_pixels`)."""
        check_request_pixels(items)

    def prepare(self, item: Any, index: int) -> OcrImage:
        """Decode (BGR), bound its sides, pad a flat image, scale for the detector."""
        decoded = np.asarray(encoded_image(item, index, "RGB"), dtype=np.uint8)[:, :, ::-1]
        height, width = decoded.shape[:2]
        image, ratio_h, ratio_w = decoded, 1.0, 1.0
        if max(height, width) > self.max_side:
            image, ratio_h, ratio_w = _fit(image, self.max_side / max(height, width))
        if min(image.shape[:2]) < self.min_side:
            image, more_h, more_w = _fit(image, self.min_side / min(image.shape[:2]))
            ratio_h, ratio_w = ratio_h * more_h, ratio_w * more_w
        h, w = image.shape[:2]
        pad = 0
        if h <= self.min_height or w / h > self.flat_ratio:
            pad = int(abs(max(int(w / self.flat_ratio), self.min_height) * 2 - h) / 2)
            image = np.pad(image, ((pad, pad), (0, 0), (0, 0)))
        h, w = image.shape[:2]
        scale = self.limit_side / min(h, w) if min(h, w) < self.limit_side else 1.0
        detect, _, _ = _fit(image, scale)
        tensor = (detect.astype(np.float32) / 255.0 - self.mean) / self.std
        return OcrImage(tensor.transpose(2, 0, 1).astype(np.float32), np.ascontiguousarray(image),
                        width, height, ratio_w, ratio_h, pad)  # fmt: skip

    def length(self, prepared: OcrImage) -> int:
        """One image at a time (each has its own size)."""
        return 1

    def collate(self, prepared: Sequence[OcrImage]) -> Feeds:
        """``[1, 3, H, W]`` (the manifest's batch size is 1)."""
        return {self.input: np.stack([p.tensor for p in prepared])}

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Without the images there is nothing to read: callers use `postprocess_items`."""
        raise InvalidInputError("OCR needs its images to read the detected lines")

    def postprocess_items(
        self, outputs: Outputs, params: PredictParams, items: Sequence[OcrImage]
    ) -> list[dict[str, Any]]:
        """Lines of each image, in reading order: text, score, box."""
        probabilities = np.asarray(next(iter(outputs.values())), dtype=np.float32)
        min_score = params.min_score if params.min_score is not None else self.text_score
        return [
            self._read(probabilities[row, 0], item, min_score) for row, item in enumerate(items)
        ]

    def _read(self, probability: Floats, item: OcrImage, min_score: float) -> dict[str, Any]:
        boxes = self.detect(probability, item.image.shape[0], item.image.shape[1])
        crops = [self._crop(item.image, box) for box in boxes]
        crops = self._upright(crops)
        texts = self._recognize(crops)
        lines: list[dict[str, Any]] = []
        for box, (text, score) in zip(boxes, texts, strict=True):
            if score < min_score:
                continue
            points = box.astype(np.float64)
            points[:, 1] -= item.pad_top
            points *= np.array([item.ratio_w, item.ratio_h])
            points = np.clip(points, 0, [item.width, item.height])
            corners = [[round(x, 2), round(y, 2)] for x, y in points.tolist()]
            lines.append({"text": text, "score": round(float(score), 6), "box": corners})
        return {"text": "\n".join(str(line["text"]) for line in lines), "lines": lines}

    def detect(self, probability: Floats, height: int, width: int) -> list[Points]:
        """DB decoding of one probability map into boxes of a ``height`` x ``width`` image,
        in reading order."""
        mask = probability > self.thresh
        if self.dilate:
            mask = geometry.dilate_2x2(mask)
        map_h, map_w = probability.shape
        boxes = []
        for points in geometry.regions(mask)[: self.max_candidates]:
            box, side = geometry.mini_box(points)
            if side < 3 or self._score(probability, box) < self.box_thresh:
                continue
            grown, side = self._unclip(box)
            if side < 5:
                continue
            grown[:, 0] = np.clip(np.round(grown[:, 0] / map_w * width), 0, width)
            grown[:, 1] = np.clip(np.round(grown[:, 1] / map_h * height), 0, height)
            ordered = geometry.order_clockwise(np.trunc(grown))
            ordered[:, 0] = np.clip(np.trunc(ordered[:, 0]), 0, width - 1)
            ordered[:, 1] = np.clip(np.trunc(ordered[:, 1]), 0, height - 1)
            if int(np.linalg.norm(ordered[0] - ordered[1])) <= 3:
                continue
            if int(np.linalg.norm(ordered[0] - ordered[3])) <= 3:
                continue
            boxes.append(ordered)
        return _reading_order(boxes)

    @staticmethod
    def _score(probability: Floats, box: Points) -> float:
        """Mean probability inside the box (PaddleOCR's ``box_score_fast``)."""
        h, w = probability.shape
        xmin = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
        xmax = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
        ymin = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
        ymax = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
        corners = (box - np.array([xmin, ymin])).astype(np.int64)
        inside = geometry.polygon_mask(corners, ymax - ymin + 1, xmax - xmin + 1)
        window = probability[ymin : ymax + 1, xmin : xmax + 1]
        return float(window[inside].mean()) if inside.any() else 0.0

    def _unclip(self, box: Points) -> tuple[Points, float]:
        """Grow the rectangle by area x ratio / perimeter on every side (what pyclipper's
        rounded offset makes of a rectangle, on its integer corners)."""
        x, y = box[:, 0], box[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        perimeter = float(np.linalg.norm(box - np.roll(box, -1, axis=0), axis=1).sum())
        distance = area * self.unclip_ratio / perimeter if perimeter else 0.0
        corners = np.trunc(box)
        out = []
        for k in range(4):
            along = corners[(k + 1) % 4] - corners[k]
            across = corners[(k + 3) % 4] - corners[k]
            shift = -_unit(along) * distance - _unit(across) * distance
            out.append(corners[k] + shift)
        return geometry.mini_box(np.rint(np.asarray(out)))

    def _crop(self, image: Image, box: Points) -> Image:
        """The box warped upright (RapidOCR's ``get_rotate_crop_image``)."""
        width = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
        height = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
        width, height = max(width, 1), max(height, 1)
        target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
        matrix = geometry.perspective_transform(box.astype(np.float64), target)
        crop = geometry.warp_perspective(image, matrix, width, height)
        return np.rot90(crop) if height / width >= 1.5 else crop

    @staticmethod
    def _normalized(crop: Image, height: int, width: int) -> Floats:
        """Resized to ``height`` keeping its ratio (at most ``width``), scaled to -1..1, padded
        with zeros on the right to ``width``."""
        ratio = crop.shape[1] / crop.shape[0]
        resized_w = min(width, math.ceil(height * ratio))
        resized = geometry.resize_linear(np.ascontiguousarray(crop), max(resized_w, 1), height)
        out = np.zeros((3, height, width), dtype=np.float32)
        out[:, :, : resized.shape[1]] = (resized.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        return out

    def _upright(self, crops: list[Image]) -> list[Image]:
        """Turn the crops the orientation classifier reads as upside down."""
        _, height, width = self.cls_shape
        order = np.argsort([c.shape[1] / c.shape[0] for c in crops], kind="stable").tolist()
        crops = list(crops)
        for start in range(0, len(order), self.cls_batch):
            chunk = order[start : start + self.cls_batch]
            batch = np.stack([self._normalized(crops[i], height, width) for i in chunk])
            scores = self.cls_session.run(None, {self.cls_session.get_inputs()[0].name: batch})[0]
            for i, row in zip(chunk, np.asarray(scores), strict=True):
                best = int(row.argmax())
                if "180" in self.cls_labels[best] and float(row[best]) > self.cls_thresh:
                    crops[i] = np.rot90(crops[i], 2)
        return crops

    def _recognize(self, crops: list[Image]) -> list[tuple[str, float]]:
        """Text and mean character probability per crop (greedy CTC)."""
        _, height, width = self.rec_shape
        order = np.argsort([c.shape[1] / c.shape[0] for c in crops], kind="stable").tolist()
        found: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        name = self.rec_session.get_inputs()[0].name
        for start in range(0, len(order), self.rec_batch):
            chunk = order[start : start + self.rec_batch]
            widest = max([width / height] + [crops[i].shape[1] / crops[i].shape[0] for i in chunk])
            box_width = int(height * widest)
            batch = np.stack([self._normalized(crops[i], height, box_width) for i in chunk])
            probabilities = np.asarray(self.rec_session.run(None, {name: batch})[0])
            for i, row in zip(chunk, probabilities, strict=True):
                found[i] = self._decode(row)
        return found

    def _decode(self, row: Floats) -> tuple[str, float]:
        """Greedy CTC: best class per step, repeats merged, blanks dropped."""
        best, probability = row.argmax(axis=1), row.max(axis=1)
        keep = np.ones(len(best), dtype=bool)
        keep[1:] = best[1:] != best[:-1]
        keep &= best != 0
        text = "".join(self.characters[i] for i in best[keep].tolist())
        score = float(probability[keep].mean()) if keep.any() else 0.0
        return text, score


def _unit(vector: Points) -> Points:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector * 0.0


def _reading_order(boxes: list[Points]) -> list[Points]:
    """Top to bottom by the first corner, then left to right among boxes within 10 px of one
    another's height (RapidOCR's ``sorted_boxes``)."""
    ordered = sorted(boxes, key=lambda b: (b[0][1], b[0][0]))
    for i in range(len(ordered) - 1):
        for j in range(i, -1, -1):
            if abs(ordered[j + 1][0][1] - ordered[j][0][1]) < 10 and (
                ordered[j + 1][0][0] < ordered[j][0][0]
            ):
                ordered[j], ordered[j + 1] = ordered[j + 1], ordered[j]
            else:
                break
    return ordered
