"""Image classification: base64 PNG/JPEG or pixel arrays -> normalized NCHW tensor."""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import ImageDecodeError, InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams, item_param
from aiaas_runtime.tasks.classify import ClassScores

MAX_ENCODED_BYTES = 4 * 1024 * 1024
MAX_DECODED_PIXELS = 16 * 1024 * 1024  # per image, read from its header before decoding
MAX_REQUEST_PIXELS = 64 * 1024 * 1024  # per request: 8 images of 16 Mpx would cost seconds
HEADER_CHARS = 128 * 1024  # base64 characters enough for a PNG's or a JPEG's header
FORMATS = frozenset({"PNG", "JPEG", "WEBP"})


class ImageProcessor:
    """Decodes, resizes and normalizes images as the manifest says.

    Pixel arrays are ``[height][width]`` (one channel) or ``[height][width][channels]`` with
    values from 0 to ``pixel_max``; encoded images are scaled from 0..255 to the same range.
    Then ``x = (pixels / pixel_max - mean) / std`` per channel.
    """

    def __init__(self, manifest: ModelManifest) -> None:
        pre = manifest.preprocessing
        self.input = str(pre.get("input", manifest.inputs[0].name))
        self.height, self.width = int(pre["height"]), int(pre["width"])
        self.channels = int(pre.get("channels", 1))
        self.pixel_max = float(pre.get("pixel_max", 255.0))
        self.mean = np.asarray(pre.get("mean", [0.0]), dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(pre.get("std", [1.0]), dtype=np.float32).reshape(-1, 1, 1)
        self.resize_mode = str(pre.get("resize", "stretch"))
        self.shorter_to = int(pre.get("resize_shorter_to", max(self.height, self.width)))
        self.scores = ClassScores(manifest)

    def check_params(self, params: PredictParams) -> None:
        """Delegate ``top_k`` checks to the class scores."""
        self.scores.check_params(params)

    def check_request(self, items: Sequence[Any]) -> None:
        """Refuse a request of too many pixels in all (`check_request_pixels`)."""
        check_request_pixels(items)

    def prepare(self, item: Any, index: int) -> npt.NDArray[np.float32]:
        """Return one normalized ``[channels, height, width]`` array."""
        param = item_param(index)
        if isinstance(item, str):
            pixels = self._decode(item, param)
        elif isinstance(item, list):
            pixels = self._from_array(item, param)
        else:
            raise InvalidInputError(
                f"{param} must be a base64 PNG/JPEG string or a {self.height}x{self.width} "
                f"pixel array, got {type(item).__name__}",
                param=param,
            )
        chw = pixels.transpose(2, 0, 1) / self.pixel_max
        normalized: npt.NDArray[np.float32] = ((chw - self.mean) / self.std).astype(np.float32)
        return normalized

    def _decode(self, text: str, param: str) -> npt.NDArray[np.float32]:
        image = open_image(text, param, "L" if self.channels == 1 else "RGB")
        resized = self._resize(image)
        array = np.asarray(resized, dtype=np.float32).reshape(self.height, self.width, -1)
        scaled: npt.NDArray[np.float32] = array * np.float32(self.pixel_max / 255.0)
        return scaled

    def _resize(self, image: Any) -> Any:
        """To the model's size: stretched, or (``resize: shorter_side_then_center_crop``) the
        shorter side to ``resize_shorter_to``, then the center crop (ImageNet's evaluation)."""
        from PIL import Image  # noqa: PLC0415

        if self.resize_mode != "shorter_side_then_center_crop":
            return image.resize((self.width, self.height), Image.Resampling.BILINEAR)
        width, height = image.size
        scale = self.shorter_to / min(width, height)
        size = (max(self.width, round(width * scale)), max(self.height, round(height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        left, top = (size[0] - self.width) // 2, (size[1] - self.height) // 2
        return image.crop((left, top, left + self.width, top + self.height))

    def _from_array(self, item: list[Any], param: str) -> npt.NDArray[np.float32]:
        try:
            array = np.asarray(item, dtype=np.float32)
        except (ValueError, TypeError) as exc:
            raise ImageDecodeError(
                f"{param} must be a rectangular array of numbers", param=param
            ) from exc
        if array.ndim == 2 and self.channels == 1:
            array = array[:, :, None]
        expected = (self.height, self.width, self.channels)
        if array.shape != expected:
            raise ImageDecodeError(
                f"{param} has shape {list(array.shape)}; expected {list(expected)} "
                "(height, width, channels)",
                param=param,
            )
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > self.pixel_max:
            raise InvalidInputError(
                f"{param} pixel values must be between 0 and {self.pixel_max:g}", param=param
            )
        return array

    def length(self, prepared: npt.NDArray[np.float32]) -> int:
        """Every image costs the same after resizing."""
        return 1

    def collate(self, prepared: Sequence[npt.NDArray[np.float32]]) -> Feeds:
        """Stack into ``[batch, channels, height, width]``."""
        return {self.input: np.stack(prepared)}

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Label, score, probabilities and top-k per image."""
        return self.scores.results(outputs, params)


def check_request_pixels(items: Sequence[Any]) -> None:
    """Refuse a request whose encoded images add up to over ``MAX_REQUEST_PIXELS``, from
    their headers alone (nothing is decoded)."""
    total = sum(_pixels(item) for item in items if isinstance(item, str))
    if total > MAX_REQUEST_PIXELS:
        raise ImageDecodeError(
            f"the images hold {total} pixels in all; a request may hold at most "
            f"{MAX_REQUEST_PIXELS} ({MAX_REQUEST_PIXELS // (1 << 20)} Mpx)",
            param="inputs",
        )


def encoded_image(item: Any, index: int, mode: str = "RGB") -> Any:
    """A request item that must be an encoded image (detectors, OCR), decoded by `open_image`;
    InvalidInputError naming ``inputs[index]`` for anything but a string."""
    param = item_param(index)
    if not isinstance(item, str):
        raise InvalidInputError(
            f"{param} must be a base64 PNG, JPEG or WebP string, got {type(item).__name__}",
            param=param,
        )
    return open_image(item, param, mode)


def open_image(text: str, param: str, mode: str) -> Any:
    """Decode one base64 PNG, JPEG or WebP (a ``data:`` URL too) into a Pillow image in
    ``mode``, upright (EXIF orientation applied). Refused with ImageDecodeError, naming
    ``param``: over ``MAX_ENCODED_BYTES``, not base64, another format, over
    ``MAX_DECODED_PIXELS`` (read from the header, before any pixel is decoded: decompression
    bombs), zero-size, or undecodable. An animated or multi-frame image is its first frame;
    palette, CMYK, 16-bit and alpha images are converted to ``mode``."""
    from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415 - image models

    if text.startswith("data:"):
        text = text.partition(",")[2]
    if len(text) > MAX_ENCODED_BYTES * 4 // 3 + 4:
        raise ImageDecodeError(f"{param} is larger than {MAX_ENCODED_BYTES} bytes", param=param)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError(f"{param} is not valid base64", param=param) from exc
    Image.MAX_IMAGE_PIXELS = MAX_DECODED_PIXELS
    try:
        with _quiet(), Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise ImageDecodeError(f"{param} must be PNG, JPEG or WebP", param=param)
            width, height = image.size
            if width * height > MAX_DECODED_PIXELS:  # Pillow only refuses at twice this
                raise ImageDecodeError(
                    f"{param} is {width}x{height} pixels; the limit is "
                    f"{MAX_DECODED_PIXELS} ({MAX_DECODED_PIXELS // (1 << 20)} Mpx)",
                    param=param,
                )
            if width == 0 or height == 0:
                raise ImageDecodeError(f"{param} has no pixels ({width}x{height})", param=param)
            image.seek(0)  # the first frame of an animation
            return ImageOps.exif_transpose(image).convert(mode)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, EOFError) as exc:
        raise ImageDecodeError(
            f"{param} is not a decodable PNG, JPEG or WebP image", param=param
        ) from exc


def _pixels(text: str) -> int:
    """Width x height from an encoded image's header (0 when it cannot be read: ``prepare``
    then names the problem)."""
    from PIL import Image  # noqa: PLC0415

    head = text.partition(",")[2] if text.startswith("data:") else text
    head = head[: HEADER_CHARS - HEADER_CHARS % 4]
    try:
        with _quiet(), Image.open(io.BytesIO(base64.b64decode(head))) as image:
            width, height = image.size
    except Exception:
        return 0
    return int(width) * int(height)


@contextmanager
def _quiet() -> Iterator[None]:
    """Pillow warns of a large image at open; the size is checked here, so no warning."""
    from PIL import Image  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield
