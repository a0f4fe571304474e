"""Task ``custom``: a graph served as it is, row by row.

The native route takes rows of numbers (a single ``[batch, n]`` float input) or token id
arrays (inputs among ``input_ids``, ``attention_mask``, ``token_type_ids``), and answers each
row with every graph output's row. Anything else takes the Open Inference Protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import Feeds, Outputs, PredictParams, item_param

TOKEN_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids"})
FLOATS = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16}
FP32_MAX = float(np.finfo(np.float32).max)


class RawProcessor:
    """Rows or token arrays in, each output's row out."""

    def __init__(self, manifest: ModelManifest) -> None:
        self.name = manifest.name
        self.inputs = manifest.inputs
        names = {spec.name for spec in self.inputs}
        self.tokens = (
            "input_ids" in names
            and names <= TOKEN_INPUTS
            and all(spec.datatype in ("INT64", "INT32") for spec in self.inputs)
        )
        spec = self.inputs[0] if len(self.inputs) == 1 else None
        self.rows = spec is not None and spec.datatype in FLOATS and len(spec.shape) == 2
        self.width = spec.shape[1] if spec is not None and self.rows else -1

    def check_params(self, params: PredictParams) -> None:
        """Raw outputs take no options."""
        if params.top_k is not None or params.dimensions is not None:
            raise InvalidInputError(
                f"model {self.name!r} is served as a custom graph: top_k and dimensions do not "
                "apply (declare its task to get task-level answers)",
                param="parameters",
            )

    def prepare(self, item: Any, index: int) -> list[float] | list[int]:
        """One row of numbers, or one token id array."""
        param = item_param(index)
        if self.tokens:
            return _token_ids(item, param)
        if not self.rows:
            raise InvalidInputError(
                f"model {self.name!r} takes {len(self.inputs)} tensors; call it with the Open "
                f"Inference Protocol: POST /v2/models/{self.name}/infer",
                param="inputs",
            )
        if (
            not isinstance(item, list)
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in item)
            or not all(math.isfinite(v) and abs(v) <= FP32_MAX for v in item)
        ):
            raise InvalidInputError(
                f"{param} must be an array of finite numbers (|x| <= 3.4e38)", param=param
            )
        if self.width != -1 and len(item) != self.width:
            raise InvalidInputError(
                f"{param} has {len(item)} numbers; the model takes rows of {self.width}",
                param=param,
            )
        return [float(v) for v in item]

    def check_request(self, items: Sequence[Any]) -> None:
        """Nothing to check across items."""

    def length(self, prepared: list[float] | list[int]) -> int:
        """Token count for token arrays (batches group similar lengths); 1 for rows."""
        return len(prepared) if self.tokens else 1

    def collate(self, prepared: Sequence[list[Any]]) -> Feeds:
        """One float matrix, or token ids padded to the longest with a matching mask."""
        if not self.tokens:
            if len({len(row) for row in prepared}) > 1:
                raise InvalidInputError("every row must have the same number of values")
            spec = self.inputs[0]
            return {spec.name: np.asarray(prepared, dtype=FLOATS[spec.datatype])}
        width = max(len(item) for item in prepared)
        ids = np.zeros((len(prepared), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, item in enumerate(prepared):
            ids[row, : len(item)] = item
            mask[row, : len(item)] = 1
        tensors = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {
            spec.name: tensors[spec.name].astype(np.int32 if spec.datatype == "INT32" else np.int64)
            for spec in self.inputs
        }

    def postprocess(self, outputs: Outputs, params: PredictParams) -> list[dict[str, Any]]:
        """Each output's row, as lists."""
        rows = max((len(v) for v in outputs.values() if np.ndim(v)), default=0)
        return [
            {key: np.asarray(value)[i].tolist() for key, value in outputs.items()}
            for i in range(rows)
        ]


def _token_ids(item: Any, param: str) -> list[int]:
    if (
        not isinstance(item, list)
        or not item
        or not all(isinstance(t, int) and not isinstance(t, bool) for t in item)
        or min(item) < 0
    ):
        raise InvalidInputError(
            f"{param} must be a non-empty array of non-negative integers (token ids)",
            param=param,
        )
    return list(item)
