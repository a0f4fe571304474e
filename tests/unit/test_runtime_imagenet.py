"""image-classifier (EfficientNet-Lite0, ImageNet-1k) on the runtime: JPEG photos in, the
same top-5 as PyTorch on the same crop (the build's testdata), human-readable class names."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aiaas_runtime import ModelRegistry, PredictParams
from aiaas_runtime.errors import InvalidInputError
from tests.conftest import load_testdata


@pytest.fixture(scope="module")
def model(models_dir: Path):  # type: ignore[no-untyped-def]
    return ModelRegistry(models_dir).get("image-classifier")


def test_photos_get_pytorchs_top_five_with_class_names(model) -> None:  # type: ignore[no-untyped-def]
    samples = load_testdata("imagenet_samples")["images"]
    result = model.predict([s["jpeg_base64"] for s in samples], PredictParams(top_k=5))
    for sample, output in zip(samples, result.results, strict=True):
        assert [t["label"] for t in output["top_k"]] == sample["top5"]
    cat, coffee = result.results
    assert cat["label"] in {"Egyptian cat", "tiger cat", "tabby"}
    assert coffee["label"] in {"espresso", "cup", "coffee mug"}
    assert len(cat["probabilities"]) == 1000
    assert sum(cat["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


def test_the_serving_variant_is_the_one_that_passed_the_gate(model) -> None:  # type: ignore[no-untyped-def]
    gate = model.manifest.quality["int8"]
    assert model.variant == ("int8" if gate["kept"] else "fp32")
    assert model.manifest.preprocessing["resize"] == "shorter_side_then_center_crop"


def test_any_size_and_exif_rotation_are_taken(model) -> None:  # type: ignore[no-untyped-def]
    sample = load_testdata("imagenet_samples")["images"][0]
    image = Image.open(io.BytesIO(base64.b64decode(sample["jpeg_base64"])))
    upright = model.predict([sample["jpeg_base64"]]).results[0]["label"]
    # the same photo stored rotated, with an EXIF orientation saying how to show it
    rotated = image.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    buffer = io.BytesIO()
    rotated.save(buffer, format="JPEG", exif=exif.tobytes(), quality=92)
    shown = model.predict([base64.b64encode(buffer.getvalue()).decode()]).results[0]["label"]
    assert shown == upright
    tiny = io.BytesIO()
    image.resize((37, 23)).save(tiny, format="PNG")
    assert model.predict([base64.b64encode(tiny.getvalue()).decode()]).results[0]["label"]
    with pytest.raises(InvalidInputError, match="224, 224, 3"):
        model.predict([np.zeros((8, 8, 3)).tolist()])
