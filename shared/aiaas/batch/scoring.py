"""Scoring a chunk's rows: built-in models through the runtime, registered ones from S3.

Each row is validated on its own, so a bad row costs only its own line; the valid rows run
together in tensor batches (the runtime's ``max_batch_size`` for built-in models, which also
groups texts of similar length; for registered models up to 256 rows, or 32 token arrays, on
the CPU or forwarded to the GPU backend).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiaas.auth.principal import Principal
from aiaas.batch.inputs import Row
from aiaas.batch.records import BatchJob, error_line, output_line
from aiaas.domain.predictions import runtime_errors
from aiaas.errors import InvalidInput, NotFound
from aiaas.serving.catalog_models import MAX_BATCH, RegisteredModel, RegisteredModels
from aiaas_runtime import InvalidInputError, ModelRegistry

TOKEN_BATCH = 32  # token arrays are padded to the longest of their group
Outcome = Any  # an output (dict), or the message of the row's error (str)


class ModelScorer:
    """Scores rows with the layer's models or the catalog's."""

    def __init__(self, registry: ModelRegistry, registered: Callable[[], RegisteredModels]) -> None:
        self.registry = registry
        self.registered = registered

    def score(self, job: BatchJob, rows: list[Row]) -> tuple[list[bytes], int, int]:
        """One line per row, in order; counts of outputs and errors."""
        runnable = [row for row in rows if not row.error]
        try:
            outcomes = iter(self._outcomes(job, [row.input for row in runnable]))
        except (NotFound, InvalidInput) as exc:  # the model is gone, or was never runnable
            outcomes = iter([exc.message] * len(runnable))
        lines: list[bytes] = []
        failed = 0
        for row in rows:
            outcome = row.error or next(outcomes)
            if isinstance(outcome, str):
                lines.append(error_line(row.id, row.line, outcome))
                failed += 1
            else:
                lines.append(output_line(row.id, outcome))
        return lines, len(rows) - failed, failed

    def _outcomes(self, job: BatchJob, inputs: list[Any]) -> list[Outcome]:
        if not inputs:
            return []
        if job.model in self.registry.manifests():
            return self._builtin(job, inputs)
        owner = Principal(job.tenant, "batch", "key", "", frozenset())
        return _registered(self.registered().get(owner, job.model, job.version), inputs)

    def _builtin(self, job: BatchJob, inputs: list[Any]) -> list[Outcome]:
        with runtime_errors():
            model = self.registry.get(job.model)
            if job.version not in (None, int(model.manifest.version)):
                raise NotFound(f"model {job.model!r} has no version {job.version}")
            results = model.predict_rows(inputs)
        return [r.message if isinstance(r, InvalidInputError) else r for r in results]


def _registered(served: RegisteredModel, inputs: list[Any]) -> list[Outcome]:
    """Rows (tabular) or token arrays (text): each checked alone, then run in groups."""
    outcomes: list[Outcome] = []
    places: list[int] = []
    for item in inputs:
        try:
            served.feeds([item])
        except InvalidInput as exc:
            outcomes.append(exc.message)
            continue
        places.append(len(outcomes))
        outcomes.append(None)
    size = TOKEN_BATCH if served.takes_tokens else MAX_BATCH
    for start in range(0, len(places), size):
        group = places[start : start + size]
        for place, output in zip(group, _run(served, [inputs[p] for p in group]), strict=True):
            outcomes[place] = output
    return outcomes


def _run(served: RegisteredModel, items: list[Any]) -> list[Outcome]:
    """One group; if the model refuses it, each row alone (to find the rows at fault)."""
    try:
        outputs = served.run(served.feeds(items))
    except InvalidInput:
        if len(items) == 1:
            raise
        results: list[Outcome] = []
        for item in items:
            try:
                results += _run(served, [item])
            except InvalidInput as exc:
                results.append(exc.message)
        return results
    return [{key: value[i].tolist() for key, value in outputs.items()} for i in range(len(items))]
