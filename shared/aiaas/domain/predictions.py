"""Predictions: find the model, run it, report what ran. Runtime errors become domain errors."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiaas.errors import InvalidInput, NotFound, Unavailable
from aiaas.protocols import InferRequest
from aiaas_runtime import (
    InvalidInputError,
    Model,
    ModelLoadError,
    ModelManifest,
    ModelNotFoundError,
    ModelRegistry,
    PredictParams,
)


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """What a prediction returns to the caller, plus how long inference took."""

    manifest: ModelManifest
    variant: str
    outputs: list[dict[str, Any]]
    inference_ms: float
    tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The response body of the native predict route."""
        return {
            "model": self.manifest.name,
            "version": self.manifest.version,
            "task": self.manifest.task,
            "outputs": self.outputs,
        }


@dataclass(frozen=True, slots=True)
class InferResult:
    """Output tensors of an Open Inference Protocol request."""

    manifest: ModelManifest
    outputs: dict[str, Any]
    inference_ms: float


def _batch_of(request: InferRequest) -> int:
    shapes = [array.shape for array in request.inputs.values()]
    return max((shape[0] for shape in shapes if shape), default=1)


@contextmanager
def runtime_errors() -> Iterator[None]:
    """Translate the runtime's typed errors into domain errors at this boundary."""
    try:
        yield
    except InvalidInputError as exc:
        raise InvalidInput(exc.message, param=exc.param) from exc
    except ModelNotFoundError as exc:
        raise NotFound(exc.message, param=exc.param) from exc
    except ModelLoadError as exc:
        raise Unavailable(f"model cannot be served right now: {exc.message}") from exc


class PredictionService:
    """Serves the models of one registry."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry

    def list_models(self) -> list[ModelManifest]:
        """Every installed model, by name."""
        with runtime_errors():
            return sorted(self.registry.manifests().values(), key=lambda m: m.name)

    def describe(self, name: str) -> ModelManifest:
        """One model's manifest; NotFound if there is none."""
        with runtime_errors():
            return self.registry.manifest(name)

    def predict(
        self, name: str, inputs: Sequence[Any], params: PredictParams | None = None
    ) -> PredictionResult:
        """Run ``inputs`` through model ``name`` and return one output per input."""
        with runtime_errors():
            model = self.registry.get(name)
            started = time.perf_counter()
            prediction = model.predict(inputs, params)
        return PredictionResult(
            manifest=model.manifest,
            variant=prediction.variant,
            outputs=prediction.results,
            inference_ms=(time.perf_counter() - started) * 1e3,
            tokens=prediction.tokens,
        )

    def infer(self, name: str, version: str | None, request: InferRequest) -> InferResult:
        """Open Inference Protocol: texts in for embedding models, graph tensors otherwise."""
        with runtime_errors():
            model = self.registry.get(name)
        if version is not None and version != model.manifest.version:
            raise NotFound(f"model {name!r} has no version {version!r}", param="version")
        started = time.perf_counter()
        with runtime_errors():
            if model.manifest.task == "embedding":
                outputs = self._embed_texts(model, request)
            else:
                model.check_count(_batch_of(request))
                outputs = model.run(request.inputs)
        return InferResult(model.manifest, outputs, (time.perf_counter() - started) * 1e3)

    @staticmethod
    def _embed_texts(model: Model, request: InferRequest) -> dict[str, Any]:
        texts = []
        for index, value in enumerate(request.inputs["text"].reshape(-1)):
            try:
                texts.append(bytes(value).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    f"input 'text': element {index} is not UTF-8 text", param="text"
                ) from exc
        vectors = [r["embedding"] for r in model.predict(texts).results]
        output = str(model.manifest.postprocessing.get("output", model.manifest.outputs[0].name))
        return {output: np.stack(vectors)}

    def embed(
        self, name: str, inputs: Sequence[str | list[int]], dimensions: int | None = None
    ) -> PredictionResult:
        """Embeddings from an embedding model; InvalidInput for any other task."""
        if self.describe(name).task != "embedding":
            raise InvalidInput(f"model {name!r} is not an embedding model", param="model")
        return self.predict(name, inputs, PredictParams(dimensions=dimensions))
