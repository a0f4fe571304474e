"""Classifier outputs -> label, score, probabilities and top-k."""

from __future__ import annotations

from typing import Any

import numpy as np

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Outputs, PredictParams, softmax


class ClassScores:
    """Reads a scores output (probabilities or logits) and names the classes."""

    def __init__(self, manifest: ModelManifest) -> None:
        post = manifest.postprocessing
        self.output = str(post.get("scores") or _scores_output(manifest))
        self.from_logits = post.get("scores_kind", "probabilities") == "logits"
        width = next((o.shape[-1] for o in manifest.outputs if o.name == self.output), -1)
        self.labels = manifest.labels or tuple(str(i) for i in range(max(width, 0)))

    def check_params(self, params: PredictParams) -> None:
        """``top_k`` must name between 1 and the number of classes."""
        if params.top_k is not None and not 1 <= params.top_k <= max(len(self.labels), 1):
            raise InvalidInputError(
                f"top_k must be between 1 and {len(self.labels)}", param="top_k"
            )

    def results(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """One ``{label, score, probabilities, top_k}`` per row."""
        scores = np.asarray(outputs[self.output], dtype=np.float32)
        if scores.ndim != 2:
            scores = scores.reshape(scores.shape[0], -1)
        probs = softmax(scores) if self.from_logits else scores
        labels = self.labels
        if len(labels) != probs.shape[1]:  # undeclared labels of a dynamic-width output
            labels = tuple(str(i) for i in range(probs.shape[1]))
        k = min(params.top_k or 3, len(labels))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        results = []
        for row, best in zip(probs.tolist(), order.tolist(), strict=True):
            results.append(
                {
                    "label": labels[best[0]],
                    "score": row[best[0]],
                    "probabilities": dict(zip(labels, row, strict=True)),
                    "top_k": [{"label": labels[i], "score": row[i]} for i in best],
                }
            )
        return results


def _scores_output(manifest: ModelManifest) -> str:
    """The last float output (skl2onnx: ``probabilities`` after ``label``)."""
    floats = [o.name for o in manifest.outputs if o.datatype in ("FP32", "FP16", "FP64")]
    return floats[-1] if floats else manifest.outputs[-1].name
