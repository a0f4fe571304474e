"""Compact weights on disk, fp32 in the session: GGUF's Q4_1 and Q8_0, and fp16, losslessly.

A language model shipped as GGUF is already quantized (SmolLM2's layers are Q4_1, its
embedding Q8_0): its fp32 export holds exactly ``d * q + m`` per block of 32 weights. Any
second quantization of those weights loses quality (measured in `modelzoo.smollm2`), so they
are kept as GGUF has them: 4-bit (two per byte) or 8-bit integers with fp16 scales, in one
``.npz`` beside a graph whose large initializers are external references. Here they are
expanded back to the exact fp32 weights and handed to onnxruntime as external initializers
(no copy of the graph on disk, no constant folding, which keeps every intermediate).
Weights shipped as fp16 (Whisper's CTranslate2 file) are kept as fp16 the same way: every
fp16 value is exactly an fp32 one, so the session computes in fp32 on the source's weights.

Layouts (``n = K // 32`` blocks along the reduced axis):

- ``q4_1`` (a MatMul weight ``[K, N]``): ``q`` uint8 ``[n, 16, N]`` (the block's first 16
  values in the low nibbles, the last 16 in the high), ``d`` and ``m`` fp16 ``[n, 1, N]``;
- ``q8_0`` (an embedding ``[V, H]``, blocks along ``H``): ``q`` int8 ``[V, H // 32, 32]``,
  ``d`` fp16 ``[V, H // 32, 1]``;
- ``f16``: ``w`` fp16 of the weight's shape, any shape;
- ``transpose``: another weight, transposed (a tied LM head).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aiaas_runtime.errors import ModelLoadError

BLOCK = 32
INDEX = "__index__"
Floats = npt.NDArray[np.float32]


def _key(name: str, part: str) -> str:
    return f"{name.replace('/', '|')}.{part}"


def expand(index: dict[str, dict[str, Any]], arrays: Any) -> dict[str, Floats]:
    """Every weight in ``index`` as fp32, from the npz ``arrays``."""
    weights: dict[str, Floats] = {}
    for name, entry in index.items():
        kind, shape = entry["format"], tuple(entry["shape"])
        if kind == "q4_1":
            packed = arrays[_key(name, "q")]
            q = np.concatenate([packed & 15, packed >> 4], axis=1).astype(np.float32)
            d, m = arrays[_key(name, "d")].astype(np.float32), arrays[_key(name, "m")]
            weights[name] = (q * d + m.astype(np.float32)).reshape(shape)
        elif kind == "q8_0":
            q8 = arrays[_key(name, "q")].astype(np.float32)
            weights[name] = (q8 * arrays[_key(name, "d")].astype(np.float32)).reshape(shape)
        elif kind == "f16":
            weights[name] = arrays[_key(name, "w")].astype(np.float32).reshape(shape)
    for name, entry in index.items():
        if entry["format"] == "transpose":
            weights[name] = np.ascontiguousarray(weights[entry["of"]].T)
    return weights


def load(path: Path) -> dict[str, Floats]:
    """The fp32 weights of a blocks file.

    Raises:
        ModelLoadError: The file is missing or not a blocks file.
    """
    try:
        with np.load(path, allow_pickle=False) as arrays:
            index = json.loads(str(arrays[INDEX]))
            return expand(index, arrays)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelLoadError(f"cannot read block weights {path.name}: {exc}") from exc


def pack_q4_1(weight: Floats) -> dict[str, npt.NDArray[Any]] | None:
    """A MatMul weight ``[K, N]`` as Q4_1 blocks, or None where that is not exact."""
    k, n = weight.shape
    if k % BLOCK:
        return None
    blocks = weight.reshape(k // BLOCK, BLOCK, n)
    low = blocks.min(axis=1, keepdims=True).astype(np.float16)
    high = blocks.max(axis=1, keepdims=True).astype(np.float64)
    d = ((high - low.astype(np.float64)) / 15).astype(np.float16)
    d32, m32 = d.astype(np.float32), low.astype(np.float32)
    q = np.clip(np.rint((blocks - m32) / np.where(d32 == 0, 1, d32)), 0, 15).astype(np.uint8)
    if not np.array_equal(q.astype(np.float32) * d32 + m32, blocks):
        return None
    return {"q": (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8), "d": d, "m": low}


def pack_q8_0(weight: Floats) -> dict[str, npt.NDArray[Any]] | None:
    """An embedding ``[V, H]`` as Q8_0 blocks along ``H``, or None where that is not exact."""
    v, h = weight.shape
    if h % BLOCK:
        return None
    blocks = weight.reshape(v, h // BLOCK, BLOCK)
    d = (np.abs(blocks).max(axis=2, keepdims=True).astype(np.float64) / 127).astype(np.float16)
    d32 = d.astype(np.float32)
    q = np.clip(np.rint(blocks / np.where(d32 == 0, 1, d32)), -127, 127).astype(np.int8)
    if not np.array_equal(q.astype(np.float32) * d32, blocks):
        return None
    return {"q": q, "d": d}


def pack_f16(weight: Floats) -> dict[str, npt.NDArray[Any]] | None:
    """Any weight as fp16, or None where that is not exact."""
    half = weight.astype(np.float16)
    if not np.array_equal(half.astype(np.float32), weight):
        return None
    return {"w": half}


def save(path: Path, index: dict[str, dict[str, Any]], parts: dict[str, dict[str, Any]]) -> None:
    """Write a blocks file: ``index`` (name -> format, shape[, of]) and each weight's parts."""
    arrays: dict[str, Any] = {INDEX: np.array(json.dumps(index))}
    arrays |= {_key(name, part): value for name, p in parts.items() for part, value in p.items()}
    with path.open("wb") as handle:
        np.savez(handle, allow_pickle=False, **arrays)


def resident_bytes(graph: Path, blocks: Path | None) -> int:
    """A session's estimated memory: twice its files, blocks counted as the fp32 they expand
    to (from the file's index: a 4-bit weight becomes about 8x its bytes, fp16 2x, a
    transposed one its full size again)."""
    expanded = 0
    if blocks is not None:
        try:
            with np.load(blocks, allow_pickle=False) as arrays:
                index = json.loads(str(arrays[INDEX]))
        except (OSError, KeyError, ValueError):  # opening the session reports it
            return 2 * (graph.stat().st_size + 8 * blocks.stat().st_size)
        expanded = sum(4 * int(np.prod(entry["shape"])) for entry in index.values())
    return 2 * (graph.stat().st_size + expanded)


def model_resident_bytes(graph: Path, files: Mapping[str, Path]) -> int:
    """A model's estimated memory: its main ``graph`` (with ``blocks``) and every other graph
    its processor opens (OCR's ``cls`` and ``rec``; a speech model's ``decoder`` with its
    ``decoder_blocks``)."""
    total = resident_bytes(graph, files.get("blocks"))
    for role, path in files.items():
        if role not in ("int8", "fp32") and path.suffix == ".onnx":
            total += resident_bytes(path, files.get(f"{role}_blocks"))
    return total
