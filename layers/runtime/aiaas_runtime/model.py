"""A servable model: a manifest, a task processor and a runner, predicting in batches.

Every model the platform serves is a `Model`: the layer's built-ins, catalog versions opened
from S3 weights and versions forwarded to the GPU container differ only in their manifest
(read from ``manifest.json`` or made from the catalog record) and their `Runner` (a local
onnxruntime session, or a client of the GPU container). KServe's load / preprocess /
predict / postprocess, without HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import InvalidInputError, RunError, TooManyInputsError
from aiaas_runtime.manifest import ModelManifest, TensorSpec
from aiaas_runtime.tasks import PredictParams, TaskProcessor

Tensors = dict[str, npt.NDArray[Any]]

# What one more session run costs, in padded items of length 1 (tokens, for text). Measured on
# MiniLM int8, 2 threads, 32 texts of 11 to 25 tokens (bench/'s batch): 16 to 48 all cut it
# into runs of 8, 19 and 5 texts, 8-9 % faster than one run of 32 (8 cuts it into 5 runs:
# a small run's matrix products are less efficient than its padding suggests).
RUN_OVERHEAD = 24


def length_runs(lengths: Sequence[int], max_rows: int, overhead: int = RUN_OVERHEAD) -> list[int]:
    """Where to cut items sorted by ``lengths`` (ascending) into session runs of at most
    ``max_rows``: each run's end index, for the least padded length plus ``overhead`` a run.

    A batch is padded to its longest item, so 32 texts of 12 to 25 tokens cost 32 x 25
    tokens in one run; cut where lengths jump, they cost less. Items of one length (images,
    table rows) stay in runs of ``max_rows``. Dynamic programming over the cut points,
    ``len(lengths) x max_rows`` steps.
    """
    count = len(lengths)
    if count == 0:
        return []
    if lengths[0] == lengths[-1]:  # one length (sorted): full runs, no search
        return [*range(max_rows, count, max_rows), count]
    best = [0] + [0x7FFFFFFFFFFFFFFF] * count  # least cost of the first j items
    cut = [0] * (count + 1)
    for end in range(1, count + 1):
        longest = lengths[end - 1]
        for start in range(max(0, end - max_rows), end):
            cost = best[start] + overhead + (end - start) * longest
            if cost <= best[end]:  # ties: the later cut, full runs first
                best[end], cut[end] = cost, start
    ends = []
    while count > 0:
        ends.append(count)
        count = cut[count]
    return ends[::-1]


class Runner(Protocol):
    """Runs the graph once on ready tensors."""

    output_names: tuple[str, ...]

    def run(self, feeds: Tensors) -> Tensors:
        """Every output of the graph, by name."""
        ...


class SessionRunner:
    """An onnxruntime session in this process."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.output_names = tuple(o.name for o in session.get_outputs())

    def run(self, feeds: Tensors) -> Tensors:
        """One session run; onnxruntime's refusals become `RunError`."""
        try:
            outputs = self.session.run(list(self.output_names), feeds)
        except Exception as exc:  # onnxruntime's errors are untyped
            message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise RunError(f"the model could not run on these inputs: {message}") from exc
        return dict(zip(self.output_names, outputs, strict=True))


@dataclass(frozen=True, slots=True)
class Prediction:
    """Results of one request, in input order, and the artifact that produced them."""

    results: list[dict[str, Any]]
    variant: str
    tokens: int = 0  # tokens read (text models; one per item otherwise)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated request, ready to run (validation and running are separate steps, so a
    caller can meter only requests that were valid)."""

    items: list[Any]
    params: PredictParams
    tokens: int


class Model:
    """Runs one model: validate items, run them in batches, read outputs per task."""

    def __init__(
        self, manifest: ModelManifest, runner: Runner, processor: TaskProcessor, variant: str
    ) -> None:
        self.manifest = manifest
        self.runner = runner
        self.processor = processor
        self.variant = variant

    @property
    def serving_inputs(self) -> tuple[TensorSpec, ...]:
        """The tensors an Open Inference Protocol client sends."""
        return self.manifest.serving_inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        """The tensors it answers with."""
        return self.manifest.outputs

    def prepare(self, items: Sequence[Any], params: PredictParams | None = None) -> Prepared:
        """Validate a request: item count, parameters, then every item.

        Raises:
            InvalidInputError: An item, the item count or a parameter is not acceptable.
        """
        params = params or PredictParams()
        self.check_count(len(items))
        self.processor.check_params(params)
        self.processor.check_request(items)
        prepared = [self.processor.prepare(item, i) for i, item in enumerate(items)]
        tokens = sum(self.processor.length(p) for p in prepared)
        return Prepared(prepared, params, tokens)

    def run_prepared(self, request: Prepared) -> Prediction:
        """Run a validated request; one result per item, in order."""
        results = self.predict_prepared(request.items, request.params)
        return Prediction(results=results, variant=self.variant, tokens=request.tokens)

    def predict(self, items: Sequence[Any], params: PredictParams | None = None) -> Prediction:
        """Validate every item, run in batches of ``max_batch_size``, keep input order."""
        return self.run_prepared(self.prepare(items, params))

    def predict_rows(
        self, items: Sequence[Any], params: PredictParams | None = None
    ) -> list[dict[str, Any] | InvalidInputError]:
        """Batch jobs: each item is validated on its own, the valid ones run together.

        A bad item costs only its own row (its error, in its place); the rest still run in
        tensor batches, similar lengths together. No ``max_items`` cap. A batch the model
        refuses is run again item by item, so only the items at fault fail.
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
        for place, result in zip(places, self._rows(prepared, params), strict=True):
            rows[place] = result
        return rows

    def _rows(
        self, prepared: Sequence[Any], params: PredictParams
    ) -> list[dict[str, Any] | InvalidInputError]:
        try:
            return list(self.predict_prepared(prepared, params))
        except RunError:
            if len(prepared) == 1:
                raise
        results: list[dict[str, Any] | InvalidInputError] = []
        for item in prepared:
            try:
                results += self.predict_prepared([item], params)
            except RunError as exc:
                results.append(exc)
        return results

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
        """Run already-prepared items; similar lengths share a batch to pad less (a
        generator, ``run_items``, runs its own loop)."""
        generate = getattr(self.processor, "run_items", None)
        if generate is not None:
            results: list[dict[str, Any]] = generate(self.runner, prepared, params)
            return results
        lengths = [self.processor.length(item) for item in prepared]
        order = sorted(range(len(prepared)), key=lengths.__getitem__)
        results = [{} for _ in prepared]
        start = 0
        for end in length_runs([lengths[i] for i in order], self.manifest.max_batch_size):
            chunk, start = order[start:end], end
            batch = [prepared[i] for i in chunk]
            outputs = self.run(self.processor.collate(batch))
            # a processor whose results depend on each item (a detector's image size) has
            # postprocess_items; the rest read the outputs alone
            finish = getattr(self.processor, "postprocess_items", None)
            done = (
                finish(outputs, params, batch)
                if finish is not None
                else self.processor.postprocess(outputs, params)
            )
            for i, result in zip(chunk, done, strict=True):
                results[i] = result
        return results

    def stream(self, prepared: Any) -> Iterator[Any]:
        """A generator's deltas for one prepared request, as they are produced.

        Raises:
            InvalidInputError: The model does not generate.
        """
        stream = getattr(self.processor, "stream", None)
        if stream is None:
            raise InvalidInputError(f"model {self.manifest.name!r} does not generate text")
        deltas: Iterator[Any] = stream(self.runner, prepared)
        return deltas

    def run(self, feeds: Tensors) -> Tensors:
        """One graph run on ready tensors; returns outputs by name.

        Raises:
            RunError: The graph refused the inputs, or an output is NaN or infinite (no
                response carries a non-finite number: JSON has none).
        """
        outputs = self.runner.run(feeds)
        for name, value in outputs.items():
            array = np.asarray(value)
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise RunError(
                    f"output {name!r} of {self.manifest.name} is not finite (NaN or infinity) "
                    "for these inputs",
                    param="inputs",
                )
        return outputs

    def prepare_infer(self, tensors: Tensors) -> Prepared | Tensors:
        """Validate an Open Inference Protocol request: texts (BYTES) are tokenized for text
        models; graph tensors are checked for their batch size only (the codec checked them
        against the tensor specs).
        """
        self.check_count(_batch_of(tensors))
        return self.prepare(self._texts(tensors)) if self._takes_texts else tensors

    def run_infer(self, request: Prepared | Tensors) -> Tensors:
        """Run a validated Open Inference Protocol request; outputs by name."""
        if not isinstance(request, Prepared):
            return self.run(request)
        if self.manifest.task != "embedding":  # text classifiers: the graph's own outputs
            return self._graph_outputs(request.items)
        results = self.run_prepared(request).results
        output = str(self.manifest.postprocessing.get("output", self.manifest.outputs[0].name))
        return {output: _stack(results)}

    def _graph_outputs(self, prepared: Sequence[Any]) -> Tensors:
        """Every graph output for prepared items, in order, run ``max_batch_size`` at a time
        (each output's first axis is the batch)."""
        size = self.manifest.max_batch_size
        parts = [
            self.run(self.processor.collate(prepared[start : start + size]))
            for start in range(0, len(prepared), size)
        ]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def infer(self, tensors: Tensors) -> Tensors:
        """Open Inference Protocol: texts in for text models, graph tensors otherwise."""
        return self.run_infer(self.prepare_infer(tensors))

    @property
    def _takes_texts(self) -> bool:
        # a table's string columns are graph tensors, not texts to tokenize
        return self.manifest.task in ("embedding", "text-classification") and any(
            spec.datatype == "BYTES" for spec in self.serving_inputs
        )

    @staticmethod
    def _texts(tensors: Tensors) -> list[str]:
        values = next(iter(tensors.values())).reshape(-1)
        texts = []
        for index, value in enumerate(values):
            try:
                texts.append(bytes(value).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InvalidInputError(
                    f"input 'text': element {index} is not UTF-8 text", param="text"
                ) from exc
        return texts


def _batch_of(tensors: Tensors) -> int:
    return max((array.shape[0] for array in tensors.values() if array.ndim), default=1)


def _stack(results: list[dict[str, Any]]) -> npt.NDArray[np.float32]:
    return np.stack([np.asarray(r["embedding"], dtype=np.float32) for r in results])
