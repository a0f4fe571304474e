"""onnxruntime for the GPU container: execution providers, sessions, tensor descriptions.

CUDA when this onnxruntime build offers it (onnxruntime-gpu in the image), TensorRT in front
of it when asked for; otherwise the CPU, which is how the container runs in tests and in the
local stack (the CPU wheel).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from aiaas.errors import InvalidInput, Unavailable
from aiaas_runtime.batcher import Feeds, RunFn
from aiaas_runtime.datatypes import oip_datatype
from aiaas_runtime.manifest import TensorSpec
from aiaas_runtime.session import CPU, CUDA, session_options

logger = logging.getLogger(__name__)

TENSORRT = "TensorrtExecutionProvider"
Provider = str | tuple[str, dict[str, Any]]

# onnxruntime spells element types ("tensor(float)") as ONNX does: numpy's names, but these.
_ORT_SPELLINGS = {"float": "float32", "string": "object"}


@dataclass(frozen=True, slots=True)
class Runtime:
    """Where sessions run.

    Attributes:
        providers: Execution providers in preference order (onnxruntime's form).
        gpu: Whether a GPU provider is among them.
        threads: Intra-op threads (matters on the CPU only).
    """

    providers: tuple[Provider, ...]
    gpu: bool
    threads: int | None = None

    def open(self, model: bytes) -> Any:
        """Open a session on these providers.

        Raises:
            Unavailable: onnxruntime cannot load the model.
        """
        try:
            return ort.InferenceSession(
                model, sess_options=session_options(self.threads), providers=list(self.providers)
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            message = " ".join(str(exc).split())[:300]
            raise Unavailable(f"the model cannot be loaded: {message}") from exc


def detect_runtime(
    *, tensorrt: bool = False, cache_dir: Path | None = None, threads: int | None = None
) -> Runtime:
    """Pick providers from what this onnxruntime build offers, and say so in one log line.

    Args:
        tensorrt: Put TensorRT before CUDA when the build has it (its engines build on the
            first run of each input shape, so measure before turning it on).
        cache_dir: Where TensorRT keeps built engines.
        threads: Intra-op threads for CPU sessions.
    """
    available = ort.get_available_providers()
    if CUDA not in available:
        logger.warning(
            "no GPU found: onnxruntime %s offers %s; serving on the CPU (fp16 off)",
            ort.__version__,
            ", ".join(available),
        )
        return Runtime(providers=(CPU,), gpu=False, threads=threads)
    # cuDNN's exhaustive algorithm search (the default) runs again for every new input shape,
    # and the batcher makes many (batch sizes 1..max_batch): its heuristic choice instead.
    providers: list[Provider] = [(CUDA, {"cudnn_conv_algo_search": "HEURISTIC"}), CPU]
    if tensorrt and TENSORRT in available:
        engines = str((cache_dir or Path("/tmp")) / "tensorrt")  # noqa: S108 - the image's scratch disk
        providers.insert(
            0, (TENSORRT, {"trt_engine_cache_enable": True, "trt_engine_cache_path": engines})
        )
    elif tensorrt:
        logger.warning("TensorRT asked for but not in this onnxruntime build; using CUDA")
    logger.info("GPU found: serving on %s", ", ".join(_name(p) for p in providers))
    return Runtime(providers=tuple(providers), gpu=True, threads=threads)


def _name(provider: Provider) -> str:
    return provider if isinstance(provider, str) else provider[0]


def provider_of(session: Any) -> str:
    """The provider a session runs on first (CPU when CUDA could not be used)."""
    return str(session.get_providers()[0])


def input_specs(session: Any) -> dict[str, TensorSpec]:
    """A session's inputs in Open Inference Protocol terms; ``-1`` for dynamic dimensions."""
    return {meta.name: _spec(meta) for meta in session.get_inputs()}


def _spec(meta: Any) -> TensorSpec:
    datatype = _datatype(str(meta.type))
    if datatype is None:
        raise Unavailable(f"input {meta.name!r} has type {meta.type}, which no request can carry")
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in meta.shape)
    return TensorSpec(meta.name, datatype, shape)


def _datatype(ort_type: str) -> str | None:
    """The Open Inference Protocol datatype of ``tensor(<element>)``; None for other types."""
    if not (ort_type.startswith("tensor(") and ort_type.endswith(")")):
        return None
    element = ort_type.removeprefix("tensor(").removesuffix(")")
    try:
        return oip_datatype(np.dtype(_ORT_SPELLINGS.get(element, element)))
    except (TypeError, ValueError):  # bfloat16, float8, int4...: no datatype, or no numpy one
        return None


def check_feeds(inputs: Mapping[str, TensorSpec], feeds: Feeds) -> None:
    """Refuse inputs a graph does not take: unknown or missing names, datatypes, shapes.

    Raises:
        InvalidInput: Naming the input at fault.
    """
    takes = ", ".join(inputs)
    for name, array in feeds.items():
        spec = inputs.get(name)
        if spec is None:
            raise InvalidInput(f"unknown input {name!r}; the model takes: {takes}", param="inputs")
        datatype = oip_datatype(array.dtype)
        if datatype != spec.datatype:
            raise InvalidInput(
                f"input {name!r}: datatype {datatype} does not match the model's {spec.datatype}",
                param="inputs",
            )
        fits = array.ndim == len(spec.shape) and all(
            want in (-1, got) for got, want in zip(array.shape, spec.shape, strict=True)
        )
        if not fits:
            raise InvalidInput(
                f"input {name!r}: shape {list(array.shape)} does not fit the model's "
                f"{list(spec.shape)}",
                param="inputs",
            )
    missing = [name for name in inputs if name not in feeds]
    if missing:
        message = f"missing input {missing[0]!r}; the model takes: {takes}"
        raise InvalidInput(message, param="inputs")


def runner(session: Any, outputs: Sequence[str]) -> RunFn:
    """The batcher's run function: every output of one session run, by name."""
    names = list(outputs)

    def run(feeds: Feeds) -> Feeds:
        return dict(zip(names, session.run(names, feeds), strict=True))

    return run
