"""Task processors, chosen by the manifest's ``task``."""

from __future__ import annotations

import importlib

from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import PredictParams, TaskProcessor

# task -> (module, class), imported when a model of the task loads (images need Pillow)
PROCESSORS = {
    "embedding": ("text", "EmbeddingProcessor"),
    "text-classification": ("text", "TextClassificationProcessor"),
    "tabular-classification": ("tabular", "TabularProcessor"),
    "image-classification": ("image", "ImageProcessor"),
    "face-detection": ("faces", "FaceDetectionProcessor"),
    "object-detection": ("detect", "ObjectDetectionProcessor"),
    "ocr": ("ocr", "OcrProcessor"),
    "chat": ("chat", "ChatProcessor"),
    "speech-recognition": ("speech", "SpeechRecognitionProcessor"),
}


def processor_for(manifest: ModelManifest) -> TaskProcessor:
    """Build the pre/post-processor for a manifest's task.

    A table with typed columns (a trained model's) is a TableProcessor; a text classifier
    without a tokenizer, and any other task, takes the graph's tensors (RawProcessor).
    """
    task = manifest.task
    if task in ("tabular-classification", "tabular-regression") and (
        manifest.preprocessing.get("columns")
    ):
        module, name = "table", "TableProcessor"
    elif task == "text-classification" and "tokenizer" not in manifest.artifacts:
        module, name = "raw", "RawProcessor"
    else:
        module, name = PROCESSORS.get(task, ("raw", "RawProcessor"))
    processor: TaskProcessor = getattr(
        importlib.import_module(f"aiaas_runtime.tasks.{module}"), name
    )(manifest)
    return processor


__all__ = ["PredictParams", "TaskProcessor", "processor_for"]
