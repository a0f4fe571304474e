"""Running a candidate model: datatypes, generated inputs, sessions, latency and its cost.

``profile_latency`` times onnxruntime with the serving session options, and
``cost_per_million`` turns a batch-1 latency into Lambda's price of a million predictions.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from aiaas_runtime.manifest import TensorSpec
from aiaas_runtime.session import CPU, available_cpus, session_options

Feed = Mapping[str, np.ndarray]

# ONNX element type -> Open Inference Protocol datatype. Types missing here (bfloat16,
# float8, int4, complex) have no Open Inference Protocol name and are refused.
OIP_DATATYPES: dict[int, str] = {
    onnx.TensorProto.BOOL: "BOOL",
    onnx.TensorProto.UINT8: "UINT8",
    onnx.TensorProto.UINT16: "UINT16",
    onnx.TensorProto.UINT32: "UINT32",
    onnx.TensorProto.UINT64: "UINT64",
    onnx.TensorProto.INT8: "INT8",
    onnx.TensorProto.INT16: "INT16",
    onnx.TensorProto.INT32: "INT32",
    onnx.TensorProto.INT64: "INT64",
    onnx.TensorProto.FLOAT16: "FP16",
    onnx.TensorProto.FLOAT: "FP32",
    onnx.TensorProto.DOUBLE: "FP64",
    onnx.TensorProto.STRING: "BYTES",
}

# Open Inference Protocol datatype -> NumPy dtype onnxruntime takes for it.
NUMPY_DTYPES: dict[str, type[Any]] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": np.object_,
}

_WORDS = ("alpha", "beta", "gamma", "delta")


def concrete_shape(shape: Sequence[int], *, batch: int, dynamic_dim: int) -> tuple[int, ...]:
    """Replace dynamic (``-1``) dimensions: the first by ``batch``, others by ``dynamic_dim``."""
    return tuple(
        d if d >= 0 else (batch if axis == 0 else dynamic_dim) for axis, d in enumerate(shape)
    )


def fixed_batch(inputs: Sequence[TensorSpec]) -> int | None:
    """Return the first dimension when some input fixes it (``[1, 3, 224, 224]``), else None."""
    fixed = [spec.shape[0] for spec in inputs if spec.shape and spec.shape[0] >= 0]
    return fixed[0] if fixed else None


def generate_inputs(
    inputs: Sequence[TensorSpec],
    *,
    batch: int = 1,
    dynamic_dim: int = 8,
    int_high: int = 2,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Make one feed of random values that fits the given input tensors.

    Floats are standard normal, integers lie in ``[0, int_high)`` (valid token ids, masks
    and indices for any vocabulary), booleans are fair coin flips, strings (``BYTES``) are
    short words.

    Args:
        inputs: The model's input tensors.
        batch: Size of a dynamic first dimension.
        dynamic_dim: Size of any other dynamic dimension.
        int_high: Exclusive upper bound of generated integers.
        seed: Seed of the random generator.

    Raises:
        ValueError: An input's datatype is not an Open Inference Protocol one.
    """
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for spec in inputs:
        shape = concrete_shape(spec.shape, batch=batch, dynamic_dim=dynamic_dim)
        feed[spec.name] = _random_values(spec, shape, rng, int_high)
    return feed


def _random_values(
    spec: TensorSpec, shape: tuple[int, ...], rng: np.random.Generator, int_high: int
) -> np.ndarray:
    dtype = NUMPY_DTYPES.get(spec.datatype)
    if dtype is None:
        raise ValueError(f"input {spec.name!r} has datatype {spec.datatype}: cannot generate it")
    if dtype is np.object_:
        return rng.choice(np.array(_WORDS, dtype=np.object_), size=shape)
    if dtype is np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, int_high, size=shape).astype(dtype)


def open_session(data: bytes, threads: int | None = None) -> Any:
    """Open a CPU session with the serving options; failures surface as exceptions, not logs.

    Raises:
        Exception: Whatever onnxruntime raises for a model it cannot load.
    """
    options = session_options(threads)
    options.log_severity_level = 4
    return ort.InferenceSession(data, sess_options=options, providers=[CPU])


def run_rows(data: bytes, feeds: Sequence[Feed]) -> dict[str, np.ndarray]:
    """Run every feed; return each output as ``[rows, values]`` over all feeds."""
    return session_rows(open_session(data), feeds)


def session_rows(session: Any, feeds: Sequence[Feed]) -> dict[str, np.ndarray]:
    """Run every feed on an open session; each output as ``[rows, values]`` over all feeds."""
    names = [o.name for o in session.get_outputs()]
    rows: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for feed in feeds:
        batch = next((v.shape[0] for v in feed.values() if v.ndim > 0), 1)
        for name, value in zip(names, session.run(None, dict(feed)), strict=True):
            array = np.asarray(value)
            per_row = array.ndim > 0 and array.shape[0] == batch
            rows[name].append(array.reshape(batch if per_row else 1, -1))
    return {name: np.vstack(parts) for name, parts in rows.items()}


@dataclass(frozen=True, slots=True)
class PriceConfig:
    """Lambda pricing of the function that serves the model (x86, us-east-1 by default).

    Attributes:
        memory_mb: The serving function's memory size.
        per_gb_second: Price of one GB-second of duration, in USD.
        per_request: Price of one invocation, in USD.
    """

    memory_mb: int
    per_gb_second: float = 0.0000166667
    per_request: float = 0.0000002


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Median latency of one session run per batch size.

    Attributes:
        p50_ms: Median milliseconds per run, by batch size.
        skipped: Why a batch size was not measured (the model fixes its batch), by size.
        runs: Timed runs per batch size (after warm-up).
        threads: onnxruntime intra-op threads used.
    """

    p50_ms: Mapping[int, float]
    skipped: Mapping[int, str]
    runs: int
    threads: int

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (batch sizes as string keys)."""
        return {
            "p50_ms": {str(b): ms for b, ms in self.p50_ms.items()},
            "skipped": {str(b): why for b, why in self.skipped.items()},
            "runs": self.runs,
            "threads": self.threads,
        }


def profile_latency(
    data: bytes,
    inputs: Sequence[TensorSpec],
    batch_sizes: Sequence[int] = (1, 32),
    *,
    runs: int = 20,
    warmup: int = 3,
    threads: int | None = None,
) -> LatencyProfile:
    """Time session runs on generated inputs with the serving session options.

    Args:
        data: The model file (fp32 or its int8 variant).
        inputs: Its input tensors (``ValidatedModel.inputs``).
        batch_sizes: Batch sizes to measure.
        runs: Timed runs per batch size, after ``warmup`` untimed ones.
        warmup: Untimed runs first.
        threads: Intra-op threads; the CPUs this process may use when omitted.
    """
    threads = threads or available_cpus()
    session = open_session(data, threads)
    fixed = fixed_batch(inputs)
    p50: dict[int, float] = {}
    skipped: dict[int, str] = {}
    for batch in batch_sizes:
        if fixed is not None and batch != fixed:
            skipped[batch] = f"the model's inputs fix the batch size at {fixed}"
            continue
        feed = generate_inputs(inputs, batch=batch)
        for _ in range(warmup):
            session.run(None, feed)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            session.run(None, feed)
            times.append((time.perf_counter() - start) * 1000)
        p50[batch] = round(statistics.median(times), 4)
    return LatencyProfile(p50_ms=p50, skipped=skipped, runs=runs, threads=threads)


def cost_per_million(p50_ms: float, price: PriceConfig) -> float:
    """Return the Lambda price in USD of a million single predictions.

    Duration is billed in whole milliseconds (rounded up, at least 1) at the function's
    memory size, plus the per-request price. Only model time counts: the handler's own
    overhead is not in ``p50_ms``.
    """
    billed_seconds = max(1, math.ceil(p50_ms)) / 1000
    per_call = billed_seconds * (price.memory_mb / 1024) * price.per_gb_second + price.per_request
    return 1_000_000 * per_call
