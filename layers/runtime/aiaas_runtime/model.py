"""A loaded model: one session plus its task processor, predicting in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError, TooManyInputsError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks import PredictParams, TaskProcessor


@dataclass(frozen=True, slots=True)
class Prediction:
    """Results of one request, in input order, and the artifact that produced them."""

    results: list[dict[str, Any]]
    variant: str
    tokens: int = 0  # tokens read (text models; one per item otherwise)


class Model:
    """Runs one model (KServe's load / preprocess / predict / postprocess, without HTTP)."""

    def __init__(
        self, manifest: ModelManifest, session: Any, processor: TaskProcessor, variant: str
    ) -> None:
        self.manifest = manifest
        self.session = session
        self.processor = processor
        self.variant = variant
        self.output_names: list[str] = [o.name for o in session.get_outputs()]

    def predict(self, items: Sequence[Any], params: PredictParams | None = None) -> Prediction:
        """Validate every item, run in batches of ``max_batch_size``, keep input order.

        Raises:
            InvalidInputError: An item, the item count or a parameter is not acceptable.
        """
        params = params or PredictParams()
        self.check_count(len(items))
        self.processor.check_params(params)
        prepared = [self.processor.prepare(item, i) for i, item in enumerate(items)]
        return Prediction(
            results=self.predict_prepared(prepared, params),
            variant=self.variant,
            tokens=sum(self.processor.length(p) for p in prepared),
        )

    def predict_rows(
        self, items: Sequence[Any], params: PredictParams | None = None
    ) -> list[dict[str, Any] | InvalidInputError]:
        """Batch jobs: each item is validated on its own, the valid ones run together.

        A bad item costs only its own row (its error, in its place); the rest still run in
        tensor batches of ``max_batch_size``, similar lengths together. No ``max_items`` cap.
        """
        params = params or PredictParams()
        self.processor.check_params(params)
        rows: list[dict[str, Any] | InvalidInputError] = []
        prepared, places = [], []
        for index, item in enumerate(items):
            try:
                prepared.append(self.processor.prepare(item, index))
            except InvalidInputError as exc:
                rows.append(exc)
                continue
            places.append(len(rows))
            rows.append({})
        for place, result in zip(places, self.predict_prepared(prepared, params), strict=True):
            rows[place] = result
        return rows

    def check_count(self, count: int) -> None:
        """Reject empty requests and requests over the model's ``max_items``."""
        if count == 0:
            raise InvalidInputError("inputs must not be empty", param="inputs")
        if count > self.manifest.max_items:
            raise TooManyInputsError(
                f"{count} inputs in one request; {self.manifest.name} takes at most "
                f"{self.manifest.max_items}",
                param="inputs",
            )

    def predict_prepared(
        self, prepared: Sequence[Any], params: PredictParams
    ) -> list[dict[str, Any]]:
        """Run already-prepared items; similar lengths share a batch to pad less."""
        order = sorted(range(len(prepared)), key=lambda i: self.processor.length(prepared[i]))
        size = self.manifest.max_batch_size
        results: list[dict[str, Any]] = [{} for _ in prepared]
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            outputs = self.run(self.processor.collate([prepared[i] for i in chunk]))
            for i, result in zip(chunk, self.processor.postprocess(outputs, params), strict=True):
                results[i] = result
        return results

    def run(self, feeds: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """One session run on ready tensors; returns outputs by name."""
        outputs = self.session.run(self.output_names, feeds)
        return dict(zip(self.output_names, outputs, strict=True))
