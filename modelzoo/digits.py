"""Recipe: ``digits-cnn``, a small CNN on scikit-learn's bundled 8x8 handwritten digits.

The network takes normalized pixels ``x = (pixels / 16 - mean) / std`` (scalars from the
training split, written to the manifest for the runtime) as ``input`` [batch, 1, 8, 8] FP32 and
returns ``logits`` [batch, 10]. The int8 file is statically quantized in QDQ format, calibrated
on 200 training images.
"""

from __future__ import annotations

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
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from modelzoo import common

NAME = "digits-cnn"
VERSION = "1"
TEST_SIZE = 0.2
PIXEL_MAX = 16.0
EPOCHS = 35
BATCH = 64
LEARNING_RATE = 1e-3
CALIBRATION_IMAGES = 200
CALIBRATION_BATCH = 20
OPSET = 17
TRAINING = {
    "optimizer": "Adam",
    "learning_rate": LEARNING_RATE,
    "epochs": EPOCHS,
    "batch_size": BATCH,
    "seed": common.SEED,
    "threads": 1,
}
ARCHITECTURE = (
    "conv(1->16,3x3,pad 1)-ReLU-conv(16->32,3x3,pad 1)-ReLU-maxpool(2)-"
    "flatten-linear(512->64)-ReLU-linear(64->10)"
)


class DigitsCNN(torch.nn.Module):
    """Two 3x3 convolutions, one 2x2 max-pool and two linear layers (~43k parameters)."""

    def __init__(self) -> None:
        """Create the layers (weights come from the seeded global generator)."""
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 16, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
        )
        self.classifier = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(32 * 4 * 4, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits [batch, 10] for normalized images [batch, 1, 8, 8]."""
        return self.classifier(self.features(x))


class Calibration(CalibrationDataReader):
    """Feeds normalized training images to the static quantizer, a few at a time."""

    def __init__(self, images: np.ndarray) -> None:
        """Keep the images [n, 1, 8, 8] FP32 to feed."""
        self.images = images
        self.position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        """Return the next batch as an input feed, or None when done."""
        if self.position >= len(self.images):
            return None
        batch = self.images[self.position : self.position + CALIBRATION_BATCH]
        self.position += CALIBRATION_BATCH
        return {"input": batch}

    def rewind(self) -> None:
        """Start again from the first image."""
        self.position = 0


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the stratified 80/20 split (``random_state=0``): raw pixels [n, 8, 8] and classes."""
    data = load_digits()
    return train_test_split(
        data.images,
        data.target,
        test_size=TEST_SIZE,
        stratify=data.target,
        random_state=common.SEED,
    )


def normalize(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Return ``(pixels / 16 - mean) / std`` as [n, 1, 8, 8] FP32, as the runtime computes it."""
    scaled = (images.astype(np.float32) / np.float32(PIXEL_MAX) - np.float32(mean)) / np.float32(
        std
    )
    return scaled[:, None, :, :].astype(np.float32)


def train(x: np.ndarray, y: np.ndarray) -> tuple[DigitsCNN, float]:
    """Train with Adam on one thread (bit-for-bit repeatable); return the model and last loss."""
    torch.manual_seed(common.SEED)
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model, generator = DigitsCNN(), torch.Generator().manual_seed(common.SEED)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    loss = torch.zeros(())
    try:
        for _ in range(EPOCHS):
            for idx in torch.randperm(len(inputs), generator=generator).split(BATCH):
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(inputs[idx]), targets[idx])
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(False)
    return model.eval(), round(float(loss.item()), 6)


def export(model: DigitsCNN, dst: Path) -> None:
    """Export to ONNX (legacy exporter, opset 17) with a dynamic batch axis."""
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.zeros(1, 1, 8, 8),),
            str(dst),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize(fp32: Path, dst: Path, calibration: np.ndarray) -> None:
    """Quantize statically to int8 QDQ: per-channel int8 weights, uint8 activations (MinMax)."""
    with common.scratch_dir() as tmp:
        pre = tmp / "pre.onnx"
        common.preprocess_for_quantization(fp32, pre, skip_symbolic_shape=False)
        quantize_static(
            pre,
            dst,
            Calibration(calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )


def onnx_accuracy(path: Path, x: np.ndarray, y: np.ndarray) -> float:
    """Return the accuracy of an ONNX file on normalized images."""
    logits = common.session(path).run(["logits"], {"input": x})[0]
    return common.accuracy(np.argmax(logits, axis=1), y)


def manifest_fields(mean: float, std: float, n_train: int, loss: float) -> dict[str, Any]:
    """Return the recipe-specific manifest fields (everything but quality and artifacts)."""
    return {
        "name": NAME,
        "version": VERSION,
        "task": "image-classification",
        "description": "Handwritten digit (0-9) from an 8x8 grayscale image, pixels 0..16, CNN",
        "source": {
            "package": "scikit-learn",
            "package_version": common.package_version("scikit-learn"),
            "framework": f"torch {common.package_version('torch')}",
            "dataset": "digits, sklearn.datasets.load_digits (bundled, 8x8, pixels 0..16)",
            "split": f"stratified train/test, test_size {TEST_SIZE}, random_state {common.SEED}",
            "n_train": n_train,
            "architecture": ARCHITECTURE,
            "training": {**TRAINING, "final_batch_loss": loss},
        },
        "labels": [str(digit) for digit in range(10)],
        "preprocessing": {
            "input": "input",
            "layout": "NCHW",
            "height": 8,
            "width": 8,
            "channels": 1,
            "pixel_max": PIXEL_MAX,
            "mean": [mean],
            "std": [std],
        },
        "postprocessing": {"scores": "logits", "scores_kind": "logits"},
        "quantization": {
            "method": "static-int8-qdq-per-channel",
            "weights": "int8 symmetric, one scale per output channel",
            "activations": "uint8 asymmetric, MinMax calibration",
            "calibration": f"{CALIBRATION_IMAGES} training images, normalized as at run time",
        },
    }


def build(models_dir: Path, testdata_dir: Path) -> dict[str, Any]:
    """Train, export, quantize and evaluate the digits CNN; write its directory and test split.

    Returns:
        The manifest as written.
    """
    out = models_dir / NAME
    out.mkdir(parents=True, exist_ok=True)
    images_train, images_test, y_train, y_test = load_split()
    scaled = images_train / PIXEL_MAX
    mean, std = round(float(scaled.mean()), 6), round(float(scaled.std()), 6)
    x_train, x_test = normalize(images_train, mean, std), normalize(images_test, mean, std)
    with common.timed(f"{NAME}: train"):
        model, loss = train(x_train, y_train)
    fp32_path, int8_path = out / "model.fp32.onnx", out / "model.int8.onnx"
    export(model, fp32_path)
    with common.timed(f"{NAME}: quantize int8"):
        quantize(fp32_path, int8_path, x_train[:CALIBRATION_IMAGES])
    testdata = {"X": images_test.astype(int).tolist(), "y": y_test.tolist()}
    common.write_json(testdata_dir / "digits_test.json", testdata, compact=True)
    with torch.no_grad():
        torch_predicted = model(torch.from_numpy(x_test)).argmax(dim=1).numpy()
    quality = {
        "metric": "accuracy",
        "dataset": "digits test split (testdata/digits_test.json)",
        "n": len(y_test),
        "fp32": onnx_accuracy(fp32_path, x_test, y_test),
        "int8": onnx_accuracy(int8_path, x_test, y_test),
        "torch": common.accuracy(torch_predicted, y_test),
    }
    fields = {**manifest_fields(mean, std, len(y_train), loss), "quality": quality}
    return common.write_manifest(out, fields, {"int8": int8_path, "fp32": fp32_path})
