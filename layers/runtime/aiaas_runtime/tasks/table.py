"""Tables with typed columns (models the platform trained): raw rows -> one tensor per column.

A trained model's graph takes the columns the user uploaded, each as its own ``[batch, 1]``
input: ``FP32`` for number columns (NaN is a missing value, imputed inside the graph) and
``BYTES`` for string columns (missing is ``""``, an unknown category is ignored by the
graph's one-hot encoder). The manifest's ``preprocessing.columns`` lists them in order::

    [{"name": "age", "type": "number"}, {"name": "city", "type": "string"}]

A row is an object keyed by column name (a key left out, or ``null``, is a missing value) or
an array in column order. Classifiers answer like every classifier (label, score, top-k);
regressors answer ``{"value": <float>}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams, item_param
from aiaas_runtime.tasks.classify import ClassScores

FP32_MAX = float(np.finfo(np.float32).max)
MAX_STRING = 1000  # characters of one string cell
MISSING_STRING = ""  # what a missing string cell becomes (training does the same)


@dataclass(frozen=True, slots=True)
class Column:
    """One input column: its name and ``number`` or ``string``."""

    name: str
    kind: str


def columns_of(manifest: ModelManifest) -> tuple[Column, ...]:
    """The manifest's typed columns."""
    declared = manifest.preprocessing.get("columns") or []
    return tuple(Column(str(c["name"]), str(c.get("type", "number"))) for c in declared)


class TableProcessor:
    """Validates rows against typed columns; one graph input per column."""

    def __init__(self, manifest: ModelManifest) -> None:
        self.columns = columns_of(manifest)
        self.names = frozenset(c.name for c in self.columns)
        self.regression = manifest.task == "tabular-regression"
        self.scores = None if self.regression else ClassScores(manifest)
        post = manifest.postprocessing
        floats = [o.name for o in manifest.outputs if o.datatype in ("FP32", "FP64")]
        self.value_output = str(post.get("output") or (floats[0] if floats else "variable"))

    def check_params(self, params: PredictParams) -> None:
        """``top_k`` is for classifiers."""
        if self.scores is not None:
            self.scores.check_params(params)
        elif params.top_k is not None:
            raise InvalidInputError("top_k is for classifiers; this is a regressor", param="top_k")

    def prepare(self, item: Any, index: int) -> list[Any]:
        """One cell per column: a float (NaN when missing) or a string ("" when missing)."""
        param = item_param(index)
        if isinstance(item, Mapping):
            unknown = sorted(str(k) for k in item if k not in self.names)
            if unknown:
                raise InvalidInputError(
                    f"{param}: unknown columns {unknown}; the columns are "
                    f"{[c.name for c in self.columns]}",
                    param=param,
                )
            cells = [item.get(c.name) for c in self.columns]
        elif isinstance(item, Sequence) and not isinstance(item, str | bytes):
            if len(item) != len(self.columns):
                raise InvalidInputError(
                    f"{param} has {len(item)} values; the model takes {len(self.columns)} "
                    f"columns ({', '.join(c.name for c in self.columns)}); use null for a "
                    "missing value",
                    param=param,
                )
            cells = list(item)
        else:
            raise InvalidInputError(
                f"{param} must be an object keyed by column name or an array of "
                f"{len(self.columns)} values",
                param=param,
            )
        return [
            _cell(value, column, f"{param}.{column.name}")
            for value, column in zip(cells, self.columns, strict=True)
        ]

    def check_request(self, items: Sequence[Any]) -> None:
        """Nothing to check across items."""

    def length(self, prepared: list[Any]) -> int:
        """Every row costs the same."""
        return 1

    def collate(self, prepared: Sequence[list[Any]]) -> Feeds:
        """One ``[batch, 1]`` tensor per column (FP32, or strings)."""
        feeds: Feeds = {}
        for at, column in enumerate(self.columns):
            values = [row[at] for row in prepared]
            if column.kind == "number":
                feeds[column.name] = np.asarray(values, dtype=np.float32).reshape(-1, 1)
            else:
                feeds[column.name] = np.asarray(values, dtype=object).reshape(-1, 1)
        return feeds

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Classifiers: label, score, probabilities, top-k; regressors: the value."""
        if self.scores is not None:
            return self.scores.results(outputs, params)
        values = np.asarray(outputs[self.value_output], dtype=np.float32).reshape(-1)
        return [{"value": float(v)} for v in values.tolist()]


def _cell(value: Any, column: Column, param: str) -> Any:
    if column.kind == "number":
        return _number(value, param)
    if value is None:
        return MISSING_STRING
    if isinstance(value, bool):
        raise InvalidInputError(f"{param} must be a string, got a boolean", param=param)
    if isinstance(value, int):
        value = str(value)  # a category written as a number (a code, a year)
    if not isinstance(value, str):
        raise InvalidInputError(
            f"{param} must be a string or null, got {type(value).__name__}", param=param
        )
    if len(value) > MAX_STRING:
        raise InvalidInputError(f"{param} is over {MAX_STRING} characters", param=param)
    return value.strip()


def _number(value: Any, param: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):  # a CSV cell or a form field
        text = value.strip()
        if not text:
            return math.nan
        try:
            value = float(text)
        except ValueError:
            raise InvalidInputError(
                f"{param} must be a number or null, got {text[:40]!r}", param=param
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"{param} must be a number or null, got {type(value).__name__}", param=param
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > FP32_MAX:
        raise InvalidInputError(
            f"{param} must be finite, a number float32 holds (|x| <= 3.4e38); null is missing",
            param=param,
        )
    return number
