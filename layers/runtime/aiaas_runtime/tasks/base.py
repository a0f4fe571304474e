"""What every task processor provides: validate one item, collate a batch, read outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError

Feeds = dict[str, npt.NDArray[Any]]
Outputs = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True, slots=True)
class PredictParams:
    """Per-request options that change post-processing, not the model run.

    Attributes:
        top_k: How many classes to list, best first (classifiers).
        dimensions: Truncate embeddings to this many leading dimensions, re-normalized.
        min_score: Detectors: the lowest score of a detection returned.
        max_faces: Face detectors: at most this many faces per image, best first.
        max_objects: Object detectors: at most this many objects per image, best first.
    """

    top_k: int | None = None
    dimensions: int | None = None
    min_score: float | None = None
    max_faces: int | None = None
    max_objects: int | None = None


class TaskProcessor(Protocol):
    """Pre- and post-processing for one task (KServe's preprocess/postprocess split)."""

    def prepare(self, item: Any, index: int) -> Any:
        """Validate and convert one request item; raise InvalidInputError naming ``index``."""
        ...

    def check_params(self, params: PredictParams) -> None:
        """Raise InvalidInputError for options this model cannot honour."""
        ...

    def check_request(self, items: Sequence[Any]) -> None:
        """Raise InvalidInputError for a request too costly as a whole (images' pixels)."""
        ...

    def length(self, prepared: Any) -> int:
        """Cost of one prepared item (token count for text; 1 otherwise), used to batch."""
        ...

    def collate(self, prepared: Sequence[Any]) -> Feeds:
        """Stack prepared items into the session's input tensors."""
        ...

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Turn one batch of session outputs into one result per item."""
        ...


def refuse_task_options(params: PredictParams, why: str, hint: str = "") -> None:
    """InvalidInputError (``param="parameters"``) when a request sets any task option: a
    generator's options travel with each request (``why``: what the model does)."""
    if any(getattr(params, field) is not None for field in params.__slots__):
        raise InvalidInputError(
            f"{why}: top_k, dimensions, min_score and max_* options do not apply{hint}",
            param="parameters",
        )


def softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32, copy=False)


def l2_normalize(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Scale each row to unit length (rows of zeros stay zero)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def item_param(index: int) -> str:
    """Name of one request item in error messages (``inputs[3]``)."""
    return f"inputs[{index}]"
