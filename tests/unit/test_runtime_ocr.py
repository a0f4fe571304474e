"""ocr (PP-OCRv4) on the runtime: the numpy geometry that stands in for OpenCV, and the whole
pipeline against the reference implementation (RapidOCR, run by the model build on the same
rendered images): the same lines, in the same order, within a pixel or two."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from aiaas_runtime import ModelRegistry, PredictParams
from aiaas_runtime.errors import ImageDecodeError, InvalidInputError
from aiaas_runtime.tasks import geometry
from tests.conftest import load_testdata


@pytest.fixture(scope="module")
def model(models_dir: Path):  # type: ignore[no-untyped-def]
    return ModelRegistry(models_dir).get("ocr")


def samples() -> list[dict[str, Any]]:
    return list(load_testdata("ocr_samples")["images"])


def edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def test_the_lines_are_the_reference_implementations(model) -> None:  # type: ignore[no-untyped-def]
    images = samples()
    assert len(images) >= 10 and any("turned-180" in s["name"] for s in images)
    distance = length = 0
    for sample in images:
        lines = model.predict([sample["png_base64"]]).results[0]["lines"]
        reference = sample["reference"]
        assert len(lines) == len(reference), sample["name"]
        for got, want in zip(lines, reference, strict=True):
            assert np.abs(np.array(got["box"]) - np.array(want["box"])).max() <= 3, sample["name"]
            distance += edits(got["text"], want["text"])
            length += len(want["text"])
            if got["text"] == want["text"]:
                assert got["score"] == pytest.approx(want["score"], abs=0.05)
    assert distance / length <= 0.03  # measured: 0.013 (spaces and one letter's case)


def test_the_text_joins_the_lines_in_reading_order(model) -> None:  # type: ignore[no-untyped-def]
    sample = next(s for s in samples() if len(s["reference"]) >= 3)
    result = model.predict([sample["png_base64"]]).results[0]
    assert result["text"] == "\n".join(line["text"] for line in result["lines"])
    tops = [min(y for _, y in line["box"]) for line in result["lines"]]
    assert tops == sorted(tops)


def png(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_blank_image_has_no_text_and_min_score_filters(model) -> None:  # type: ignore[no-untyped-def]
    blank = png(Image.new("RGB", (320, 120), "white"))
    assert model.predict([blank]).results == [{"text": "", "lines": []}]
    sample = samples()[0]
    strict = model.predict([sample["png_base64"]], PredictParams(min_score=0.9999)).results[0]
    assert strict["lines"] == [] or all(line["score"] >= 0.9999 for line in strict["lines"])
    with pytest.raises(InvalidInputError, match="min_score"):
        model.predict([sample["png_base64"]], PredictParams(min_score=0))


def test_bad_images_are_refused_by_name(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageDecodeError, match=r"inputs\[0\]"):
        model.predict(["bm90IGFuIGltYWdl"])
    with pytest.raises(InvalidInputError, match="must be a base64"):
        model.predict([[[1, 2, 3]]])
    with pytest.raises(InvalidInputError, match="at most 4"):
        model.predict([samples()[0]["png_base64"]] * 5)


def test_the_manifest_records_source_and_quality(model) -> None:  # type: ignore[no-untyped-def]
    manifest = model.manifest
    assert manifest.task == "ocr" and set(manifest.artifacts) == {"fp32", "cls", "rec", "charset"}
    assert manifest.to_dict()["source"]["package"] == "rapidocr-onnxruntime"
    assert 0 <= manifest.quality["reference"]["cer"] < 0.2
    assert manifest.quality["fp32"]["cer_vs_reference"] <= 0.03


# --- the geometry OpenCV does in the reference ------------------------------------------


def test_regions_are_scipys_8_connected_components() -> None:
    rng = np.random.default_rng(4)
    for density in (0.3, 0.55, 0.7):
        mask = rng.random((60, 90)) > density
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
        found = geometry.regions(mask)
        assert len(found) == count
        want = sorted(
            (int(xs.start), int(ys.start), int(xs.stop) - 1, int(ys.stop) - 1)
            for ys, xs in ndimage.find_objects(labels)
        )
        got = sorted(
            (int(p[:, 0].min()), int(p[:, 1].min()), int(p[:, 0].max()), int(p[:, 1].max()))
            for p in found
        )
        assert got == want


def test_the_minimum_rectangle_of_a_turned_rectangle_is_itself() -> None:
    angle = np.deg2rad(17)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([[0, 0], [40, 0], [40, 10], [0, 10]], dtype=float) @ rotation.T + 50
    inside = np.random.default_rng(0).random((200, 2)) * [40, 10] @ rotation.T + 50
    box, width, height = geometry.min_area_rect(np.concatenate([corners, inside]))
    assert sorted([width, height]) == pytest.approx([10, 40])
    assert sorted(map(tuple, np.round(box, 6))) == sorted(map(tuple, np.round(corners, 6)))
    ordered, side = geometry.mini_box(corners)
    assert side == pytest.approx(10) and ordered[0][0] <= ordered[1][0]


def test_resize_warp_and_dilate_on_known_cases() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (21, 34, 3), dtype=np.uint8)
    assert np.array_equal(geometry.resize_linear(image, 34, 21), image)
    doubled = geometry.resize_linear(np.array([[[0], [100]]], dtype=np.uint8), 4, 1)
    assert doubled.ravel().tolist() == [0, 25, 75, 100]  # half-pixel centres, edges clamped
    source = np.array([[5, 3], [25, 3], [25, 13], [5, 13]], dtype=float)
    target = np.array([[0, 0], [20, 0], [20, 10], [0, 10]], dtype=float)
    matrix = geometry.perspective_transform(source, target)
    assert np.array_equal(geometry.warp_perspective(image, matrix, 20, 10), image[3:13, 5:25])
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = True
    assert np.argwhere(geometry.dilate_2x2(mask)).tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]
