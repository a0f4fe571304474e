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
        self.output = str(post.get("scores", manifest.outputs[-1].name))
        self.from_logits = post.get("scores_kind", "probabilities") == "logits"
        self.labels = manifest.labels

    def check_params(self, params: PredictParams) -> None:
        """``top_k`` must name between 1 and the number of classes."""
        if params.top_k is not None and not 1 <= params.top_k <= len(self.labels):
            raise InvalidInputError(
                f"top_k must be between 1 and {len(self.labels)}", param="top_k"
            )

    def results(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """One ``{label, score, probabilities, top_k}`` per row."""
        scores = outputs[self.output].astype(np.float32, copy=False)
        probs = softmax(scores) if self.from_logits else scores
        k = params.top_k or min(3, len(self.labels))
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        results = []
        for row, best in zip(probs.tolist(), order.tolist(), strict=True):
            results.append(
                {
                    "label": self.labels[best[0]],
                    "score": row[best[0]],
                    "probabilities": dict(zip(self.labels, row, strict=True)),
                    "top_k": [{"label": self.labels[i], "score": row[i]} for i in best],
                }
            )
        return results
