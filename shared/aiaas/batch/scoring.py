"""Scoring a chunk's rows through the prediction service (every kind of model alike).

Each row is validated on its own, so a bad row costs only its own line; the valid rows run
together in the model's tensor batches, similar lengths together (the runtime's
``predict_rows``), on this CPU or forwarded to the GPU container.
"""

from __future__ import annotations

from typing import Any

from aiaas.auth.principal import Principal
from aiaas.batch.inputs import Row
from aiaas.batch.records import BatchJob, error_line, output_line
from aiaas.errors import Conflict, InvalidInput, NotFound
from aiaas.serving.predictions import PredictionService


class ModelScorer:
    """Scores a job's rows with the model it names, as the job's tenant."""

    def __init__(self, predictions: PredictionService) -> None:
        self.predictions = predictions

    def score(self, job: BatchJob, rows: list[Row]) -> tuple[list[bytes], int, int]:
        """One line per row, in order; counts of outputs and errors."""
        runnable = [row for row in rows if not row.error]
        outcomes = iter(self._outcomes(job, [row.input for row in runnable]))
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

    def _outcomes(self, job: BatchJob, inputs: list[Any]) -> list[dict[str, Any] | str]:
        if not inputs:
            return []
        owner = Principal(job.tenant, "batch", "key", "", frozenset())
        try:
            outcomes = self.predictions.predict_rows(owner, job.model, job.version, inputs)
            if job.explain:
                why = self.predictions.explain_rows(owner, job.model, job.version, inputs)
                for outcome, explanation in zip(outcomes, why, strict=True):
                    if isinstance(outcome, dict):
                        key = "explanation" if isinstance(explanation, dict) else "explain_error"
                        outcome[key] = explanation
            return outcomes
        except (NotFound, Conflict, InvalidInput) as exc:  # the model is gone, or not runnable
            return [exc.message] * len(inputs)
