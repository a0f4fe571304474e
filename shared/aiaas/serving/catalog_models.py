"""Resolving a model name for prediction: built-in (the layer) or registered (S3 weights).

Built-in names need no catalog lookup (a tenant cannot take a public name), so the built-in
path imports no AWS SDK and touches no table.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas.auth.principal import Principal
from aiaas.domain.catalog import CatalogService
from aiaas.domain.catalog_records import ModelVersion
from aiaas.errors import InvalidInput, Unavailable
from aiaas.serving.gpu import GpuBackend, GpuTarget
from aiaas.serving.weights_cache import WeightsCache
from aiaas_runtime import TensorSpec
from aiaas_runtime.session import open_session

MAX_BATCH = 256
TOKEN_INPUTS = frozenset({"input_ids", "attention_mask", "token_type_ids"})
MAX_TOKENS = 512
EMBEDDING_OUTPUT = "sentence_embedding"


@dataclass
class RegisteredModel:
    """A READY catalog version, ready to run raw tensors."""

    name: str
    version: ModelVersion
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    variant: str
    session: Any = None
    gpu: GpuBackend | None = None

    def run(self, feeds: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """One run on the graph's tensors (locally, or on the GPU backend)."""
        batch = max((a.shape[0] for a in feeds.values() if a.ndim), default=1)
        if batch > MAX_BATCH:
            raise InvalidInput(f"{batch} rows in one request; the limit is {MAX_BATCH}")
        if self.gpu is not None:
            return self.gpu.infer(self.gpu_target, feeds)
        names = [o.name for o in self.outputs]
        try:
            return dict(zip(names, self.session.run(names, feeds), strict=True))
        except Exception as exc:  # onnxruntime's errors are untyped
            message = str(exc).splitlines()[0][:300]
            raise InvalidInput(f"the model could not run on these inputs: {message}") from exc

    @property
    def gpu_target(self) -> GpuTarget:
        """What the GPU container needs to run this version (its fp32 weights)."""
        return GpuTarget(
            self.name,
            self.version.version,
            self.version.artifacts["fp32"],
            self.version.sha256,
            tuple(o.name for o in self.outputs),
        )

    @property
    def takes_tokens(self) -> bool:
        """A text model fed token ids (``input_ids`` and maybe a mask and token types)."""
        names = {spec.name for spec in self.inputs}
        return (
            "input_ids" in names
            and names <= TOKEN_INPUTS
            and all(spec.datatype in ("INT64", "INT32") for spec in self.inputs)
        )

    def feeds(self, items: list[Any]) -> dict[str, npt.NDArray[Any]]:
        """The native route's ``inputs``: token arrays for token models, rows otherwise."""
        return self.token_feeds(items) if self.takes_tokens else self.rows(items)

    def token_feeds(self, items: list[Any]) -> dict[str, npt.NDArray[Any]]:
        """Token arrays, padded to the longest with a matching attention mask."""
        for index, item in enumerate(items):
            if (
                not isinstance(item, list)
                or not item
                or not all(isinstance(t, int) and not isinstance(t, bool) for t in item)
                or min(item) < 0
            ):
                raise InvalidInput(
                    f"model {self.name!r} takes token ids: inputs[{index}] must be a non-empty "
                    "array of non-negative integers (this model has no tokenizer)",
                    param=f"inputs[{index}]",
                )
        length = max(len(item) for item in items)
        limit = max((s.shape[1] for s in self.inputs if len(s.shape) == 2), default=-1)
        limit = MAX_TOKENS if limit == -1 else limit
        if length > limit:
            raise InvalidInput(f"{length} tokens; model {self.name!r} takes at most {limit}")
        ids = np.zeros((len(items), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, item in enumerate(items):
            ids[row, : len(item)] = item
            mask[row, : len(item)] = 1
        tensors = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return {
            spec.name: tensors[spec.name].astype(np.int32 if spec.datatype == "INT32" else np.int64)
            for spec in self.inputs
        }

    def embeddings(self, outputs: dict[str, npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        """The ``[batch, dim]`` float output (``sentence_embedding`` when there are several)."""
        candidates = [
            spec.name
            for spec in self.outputs
            if spec.datatype in ("FP32", "FP16", "FP64") and len(spec.shape) == 2
        ]
        if not candidates:
            raise InvalidInput(
                f"model {self.name!r} has no [batch, dim] float output to use as embeddings",
                param="model",
            )
        name = EMBEDDING_OUTPUT if EMBEDDING_OUTPUT in candidates else candidates[0]
        return np.asarray(outputs[name], dtype=np.float32)

    def rows(self, items: list[Any]) -> dict[str, npt.NDArray[Any]]:
        """The native route's ``inputs`` as one FP32 matrix, for single-input tabular models."""
        (spec,) = self.inputs if len(self.inputs) == 1 else (None,)
        if spec is None or spec.datatype != "FP32" or len(spec.shape) != 2:
            raise InvalidInput(
                f"model {self.name!r} takes {len(self.inputs)} tensors; call it with the Open "
                f"Inference Protocol: POST /v2/models/{self.name}/infer",
                param="inputs",
            )
        try:
            matrix = np.asarray(items, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidInput("inputs must be rows of numbers", param="inputs") from exc
        width = spec.shape[1]
        if matrix.ndim != 2 or (width != -1 and matrix.shape[1] != width):
            raise InvalidInput(f"inputs must be rows of {width} numbers", param="inputs")
        return {spec.name: matrix}


def _specs(raw: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec(t["name"], t["datatype"], tuple(t["shape"])) for t in raw)


class RegisteredModels:
    """Opens registered versions from verified weights.

    Open sessions are capped by count and by memory (estimated as twice the model file: the
    graph plus onnxruntime's prepacked weights); the least recently used one closes first.
    """

    def __init__(
        self,
        catalog: CatalogService,
        cache: WeightsCache,
        *,
        max_sessions: int = 4,
        max_session_bytes: int = 1 << 30,
        gpu: GpuBackend | None = None,
        threads: int | None = None,
    ) -> None:
        self.catalog = catalog
        self.cache = cache
        self.max_sessions = max_sessions
        self.max_session_bytes = max_session_bytes
        self.gpu = gpu
        self.threads = threads
        self._sessions: OrderedDict[Path, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[Path, threading.Lock] = {}

    def get(self, caller: Principal, name: str, number: int | None) -> RegisteredModel:
        """The caller's (or a public) READY version; 503 when it cannot be served."""
        model = self.catalog.resolve(caller, name)
        number = number or model.default_version
        if number is None:
            raise Unavailable(f"model {name!r} has no READY version yet")
        version = self.catalog.version(model, number)
        if version.status != "READY":
            raise Unavailable(f"model {name!r} version {number} is {version.status}")
        variant = "int8" if "int8" in version.artifacts else "fp32"
        served = RegisteredModel(
            name, version, _specs(version.inputs), _specs(version.outputs), variant
        )
        if model.runtime == "gpu":
            if self.gpu is None:
                raise Unavailable("GPU backend not configured for this deployment")
            served.gpu = self.gpu
            served.variant = "gpu"  # the container picks fp16 or fp32 itself
            return served
        sha = version.sha256 if variant == "fp32" else str(version.quality["int8"]["sha256"])
        served.session = self._session(self.cache.path(version.artifacts[variant], sha))
        return served

    def _session(self, path: Path) -> Any:
        with self._lock:
            if path in self._sessions:
                self._sessions.move_to_end(path)
                return self._sessions[path][0]
            opening = self._opening.setdefault(path, threading.Lock())
        with opening:  # concurrent first requests for one model open one session
            with self._lock:
                if path in self._sessions:
                    return self._sessions[path][0]
            session = open_session(path, threads=self.threads)
            with self._lock:
                self._sessions[path] = (session, 2 * path.stat().st_size)
                self._evict(keep=path)
            return session

    def _evict(self, keep: Path) -> None:
        def over() -> bool:
            used = sum(size for _, size in self._sessions.values())
            return len(self._sessions) > self.max_sessions or used > self.max_session_bytes

        for path in list(self._sessions):
            if not over():
                return
            if path != keep:
                del self._sessions[path]
