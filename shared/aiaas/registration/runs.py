"""Running a candidate model: datatypes, generated inputs, sessions, latency and its cost.

``runtime_max_opset`` finds the newest opset this onnxruntime loads, ``profile_latency``
times onnxruntime with the serving session options, and ``cost_per_million`` turns a
batch-1 latency into Lambda's price of a million predictions.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

from aiaas_runtime.datatypes import numpy_dtype, oip_datatype
from aiaas_runtime.manifest import TensorSpec
from aiaas_runtime.session import CPU, available_cpus, session_options

Feed = Mapping[str, np.ndarray]

# The opset probe climbs from the oldest opset served, one one-node model (~0.2 ms) a step,
# up to this ceiling at most; IR 8 is readable by every onnxruntime since 1.10.
_PROBE_FLOOR = 7
_PROBE_CEILING = 256
_PROBE_IR_VERSION = 8
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
    try:
        dtype = numpy_dtype(spec.datatype)
    except ValueError:
        raise ValueError(
            f"input {spec.name!r} has datatype {spec.datatype}: cannot generate it"
        ) from None
    if dtype.kind == "O":
        return rng.choice(np.array(_WORDS, dtype=np.object_), size=shape)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, int_high, size=shape).astype(dtype)


def onnx_datatype(elem_type: int) -> str | None:
    """Return the Open Inference Protocol datatype of an ONNX element type.

    Args:
        elem_type: A ``TensorProto.DataType`` value (``TensorProto.FLOAT``...).

    Returns:
        The datatype, or None for types the protocol has no name for (bfloat16, float8,
        int4, complex, undefined): a model that takes or returns them is refused.
    """
    try:
        return oip_datatype(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        return None


@functools.cache
def runtime_max_opset() -> int:
    """Return the newest default-domain (``ai.onnx``) opset this process's onnxruntime loads.

    onnxruntime publishes no such number (``get_build_info()`` names a commit, not opsets),
    so open one-node models at rising opsets and keep the last one it loads. Once per
    process: under 10 ms, half of it onnxruntime's own start-up, which the first session
    pays anyway.

    Raises:
        RuntimeError: onnxruntime loads not even the oldest opset probed.
    """
    newest = _PROBE_FLOOR - 1
    while newest < _PROBE_CEILING and _loads_opset(newest + 1):
        newest += 1
    if newest < _PROBE_FLOOR:
        raise RuntimeError(f"onnxruntime {ort.__version__} loads no model of opset {_PROBE_FLOOR}")
    return newest


def _loads_opset(opset: int) -> bool:
    x, y = (helper.make_tensor_value_info(name, TensorProto.FLOAT, [1]) for name in "xy")
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = _PROBE_IR_VERSION
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=[CPU])
    except Exception:  # onnxruntime raises its own untyped errors
        return False
    return True


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
