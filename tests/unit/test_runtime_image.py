"""digits-cnn through the runtime: pixel arrays and encoded PNG/JPEG images."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aiaas_runtime import ImageDecodeError, InvalidInputError, Model, ModelRegistry
from tests.conftest import load_testdata

NAME = "digits-cnn"


@pytest.fixture(scope="module")
def model(models_dir: Path) -> Model:
    return ModelRegistry(models_dir).get(NAME)


@pytest.fixture(scope="module")
def digits() -> dict[str, list]:
    return load_testdata("digits_test")


def encode(pixels: list[list[int]], fmt: str, size: int = 8) -> str:
    """A digit as an image file: 0..16 ink scaled to 0..255, optionally enlarged."""
    array = (np.asarray(pixels, dtype=np.float32) * 255 / 16).round().astype(np.uint8)
    image = Image.fromarray(array, mode="L").resize((size, size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, quality=95)
    return base64.b64encode(buffer.getvalue()).decode()


def test_test_split_digits_are_classified_correctly(model: Model, digits: dict) -> None:
    results = model.predict(digits["X"][:200]).results
    predicted = [int(r["label"]) for r in results]
    accuracy = np.mean(np.array(predicted) == np.array(digits["y"][:200]))
    assert accuracy >= 0.95


def test_png_of_a_digit_classifies_like_its_pixel_array(model: Model, digits: dict) -> None:
    pixels, label = digits["X"][0], digits["y"][0]
    from_array, from_png = model.predict([pixels, encode(pixels, "PNG")]).results
    assert from_array["label"] == from_png["label"] == str(label)


def test_jpeg_and_data_urls_are_accepted(model: Model, digits: dict) -> None:
    pixels = digits["X"][1]
    jpeg = encode(pixels, "JPEG", size=64)  # larger image: resized down to 8x8
    results = model.predict([jpeg, "data:image/png;base64," + encode(pixels, "PNG")]).results
    assert results[1]["label"] == str(digits["y"][1])
    assert len(results[0]["probabilities"]) == 10


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (base64.b64encode(b"definitely not an image").decode(), ImageDecodeError,
         "not a decodable PNG, JPEG or WebP"),
        ("not base64!!", ImageDecodeError, "not valid base64"),
        ([[0] * 8] * 7, ImageDecodeError, "has shape [7, 8, 1]"),
        ([[0] * 8] * 7 + [[0] * 7], ImageDecodeError, "rectangular array"),
        ([[99] * 8] * 8, InvalidInputError, "between 0 and 16"),
        (42, InvalidInputError, "must be a base64 PNG/JPEG string"),
    ],
)  # fmt: skip
def test_bad_images_are_rejected_with_the_reason(
    model: Model, item: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        model.predict([item])
    assert message in str(info.value)


def test_gif_is_refused_even_though_pillow_reads_it(model: Model) -> None:
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="GIF")
    with pytest.raises(ImageDecodeError, match="must be PNG, JPEG or WebP"):
        model.predict([base64.b64encode(buffer.getvalue()).decode()])


def encoded(image: Image.Image, fmt: str, **options: object) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return base64.b64encode(buffer.getvalue()).decode()


def test_webp_animated_cmyk_16_bit_and_palette_images_are_taken(model: Model) -> None:
    """Each becomes the model's mode; an animation is its first frame (documented)."""
    ink = Image.new("L", (8, 8), 0)
    ink.paste(255, (2, 1, 6, 7))
    first, second = ink.convert("RGB"), Image.new("RGB", (8, 8), (0, 0, 0))
    animated = io.BytesIO()
    first.save(animated, format="PNG", save_all=True, append_images=[second])
    frame = model.predict([base64.b64encode(animated.getvalue()).decode()]).results[0]
    assert frame == model.predict([encoded(first, "PNG")]).results[0]
    variants = [
        encoded(first, "WEBP", lossless=True),
        encoded(first.convert("CMYK"), "JPEG"),
        encoded(ink.convert("I;16"), "PNG"),
        encoded(first.convert("P"), "PNG"),
    ]
    reference = model.predict([encoded(first, "PNG")]).results[0]["label"]
    assert [r["label"] for r in model.predict(variants).results] == [reference] * 4


def big_png(width: int, height: int, mode: str = "L") -> str:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_image_over_16_megapixels_is_refused_from_its_header(model: Model) -> None:
    # 17 Mpx: Pillow alone would decode it (it refuses only at twice its own limit)
    with pytest.raises(ImageDecodeError, match="is 4200x4200 pixels; the limit is"):
        model.predict([big_png(4200, 4200)])


def test_a_request_over_its_pixel_budget_is_refused_before_decoding(model: Model) -> None:
    image = big_png(4000, 4000)  # 16 Mpx, just within the per-image limit
    assert model.predict([image]).results[0]["label"]
    with pytest.raises(ImageDecodeError, match="a request may hold at most") as caught:
        model.predict([image] * 5)
    assert caught.value.param == "inputs"


def test_16_bit_palette_and_alpha_images_are_converted(model: Model) -> None:
    for mode in ("I;16", "P", "RGBA", "LA"):
        assert model.predict([big_png(8, 8, mode)]).results[0]["label"], mode
