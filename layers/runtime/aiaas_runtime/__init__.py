"""aiaas_runtime: quantized ONNX models on onnxruntime, tuned for AWS Lambda's CPUs.

Imports numpy, onnxruntime, tokenizers (and Pillow for encoded images) only: no web
framework, no AWS SDK. The GPU container reuses it; it picks CUDA when available.
"""

from aiaas_runtime.errors import (
    AudioTooLongError,
    ContextLengthError,
    ImageDecodeError,
    InferenceError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    RunError,
    TextTooLongError,
    TooManyInputsError,
)
from aiaas_runtime.manifest import ModelManifest, TensorSpec
from aiaas_runtime.model import Model, Prediction, Prepared, Runner, SessionRunner
from aiaas_runtime.pool import ModelPool, Opened
from aiaas_runtime.registry import ModelRegistry
from aiaas_runtime.tasks import PredictParams

__all__ = [
    "AudioTooLongError",
    "ContextLengthError",
    "ImageDecodeError",
    "InferenceError",
    "InvalidInputError",
    "Model",
    "ModelLoadError",
    "ModelManifest",
    "ModelNotFoundError",
    "ModelPool",
    "ModelRegistry",
    "Opened",
    "PredictParams",
    "Prediction",
    "Prepared",
    "RunError",
    "Runner",
    "SessionRunner",
    "TensorSpec",
    "TextTooLongError",
    "TooManyInputsError",
]
