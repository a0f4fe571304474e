"""Tabular classification: rows (arrays or objects keyed by feature name) -> float tensor."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams, item_param
from aiaas_runtime.tasks.classify import ClassScores

FP32_MAX = float(np.finfo(np.float32).max)


class TabularProcessor:
    """Validates feature rows against the manifest's feature list."""

    def __init__(self, manifest: ModelManifest) -> None:
        pre = manifest.preprocessing
        self.input = str(pre.get("input", manifest.inputs[0].name))
        width = manifest.inputs[0].shape[-1] if manifest.inputs[0].shape else -1
        declared = pre.get("features") or [f"x{i}" for i in range(max(width, 0))]
        self.features: tuple[str, ...] = tuple(str(f) for f in declared)
        self.scores = ClassScores(manifest)

    def check_params(self, params: PredictParams) -> None:
        """Delegate ``top_k`` checks to the class scores."""
        self.scores.check_params(params)

    def prepare(self, item: Any, index: int) -> list[float]:
        """Accept ``[5.1, 3.5, 1.4, 0.2]`` or ``{"sepal_length": 5.1, ...}``."""
        param = item_param(index)
        if isinstance(item, Mapping):
            values = self._from_mapping(item, param)
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes):
            values = list(item)
        else:
            raise InvalidInputError(
                f"{param} must be an array of {len(self.features)} numbers or an object "
                f"keyed by feature name ({', '.join(self.features)})",
                param=param,
            )
        if self.features and len(values) != len(self.features):
            raise InvalidInputError(
                f"{param} has {len(values)} features; the model expects {len(self.features)} "
                f"({', '.join(self.features)})",
                param=param,
            )
        names = self.features or tuple(f"x{i}" for i in range(len(values)))
        return [_number(v, f"{param}.{name}") for v, name in zip(values, names, strict=True)]

    def _from_mapping(self, item: Mapping[Any, Any], param: str) -> list[Any]:
        missing = [f for f in self.features if f not in item]
        unknown = sorted(str(k) for k in item if k not in self.features)
        if missing or unknown:
            raise InvalidInputError(
                f"{param}: missing features {missing}, unknown features {unknown}; "
                f"expected {list(self.features)}",
                param=param,
            )
        return [item[f] for f in self.features]

    def check_request(self, items: Sequence[Any]) -> None:
        """Nothing to check across items."""

    def length(self, prepared: list[float]) -> int:
        """Every row costs the same."""
        return 1

    def collate(self, prepared: Sequence[list[float]]) -> Feeds:
        """Stack rows into a ``[batch, features]`` FP32 tensor."""
        if len({len(row) for row in prepared}) > 1:  # only where no feature list is known
            raise InvalidInputError("every row must have the same number of features")
        return {self.input: np.asarray(prepared, dtype=np.float32)}

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Label, score, probabilities and top-k per row."""
        return self.scores.results(outputs, params)


def _number(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"{param} must be a number, got {type(value).__name__}", param=param
        )
    try:
        number = float(value)
    except OverflowError:  # an integer past any float
        number = math.inf
    if not math.isfinite(number) or abs(number) > FP32_MAX:
        raise InvalidInputError(
            f"{param} must be finite, a number float32 holds (|x| <= 3.4e38)", param=param
        )
    return number
