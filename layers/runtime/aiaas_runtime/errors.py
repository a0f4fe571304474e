"""Typed errors of the inference runtime.

They carry no HTTP status: the web layer maps them (through the domain) in one table.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class of every error the runtime raises on purpose."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidInputError(InferenceError):
    """The caller's input cannot be turned into a tensor for this model."""


class RunError(InvalidInputError):
    """The graph refused to run on inputs that passed validation (onnxruntime's error)."""


class TooManyInputsError(InvalidInputError):
    """The request carries more items than the model accepts at once."""


class TextTooLongError(InvalidInputError):
    """A text is longer than the model's character limit."""


class ContextLengthError(InvalidInputError):
    """A prompt and the tokens asked for do not fit in the model's context."""


class AudioTooLongError(InvalidInputError):
    """An audio file is longer than the model transcribes in one request."""


class ImageDecodeError(InvalidInputError):
    """An image is not a decodable PNG/JPEG nor a pixel array of the right shape."""


class ModelNotFoundError(InferenceError):
    """No model of that name is installed."""


class ModelLoadError(InferenceError):
    """A model is installed but cannot be opened (bad manifest, missing or corrupt file)."""


class QueueFullError(InferenceError):
    """A dynamic batcher's queue is full: answer 503 and let the caller retry."""


class BatcherClosedError(InferenceError):
    """The dynamic batcher was closed before it ran the request."""
