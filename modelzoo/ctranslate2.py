"""Read a CTranslate2 ``model.bin`` without CTranslate2, and map a Whisper one into
transformers' ``WhisperForConditionalGeneration``.

The file (binary version 6, ``ctranslate2/specs/model_spec.py`` ``_serialize``), all
little-endian: ``uint32`` version, the spec's name (a string: ``uint16`` length counting a
final NUL, the UTF-8 bytes, the NUL), ``uint32`` spec revision, ``uint32`` variable count;
per variable its name, ``uint8`` rank, ``uint32`` per dimension, ``uint8`` dtype id (float32,
int8, int16, int32, float16, bfloat16), ``uint32`` byte count and the bytes; then ``uint32``
alias count and per alias two names (the alias, then the variable it stands for).

Whisper's spec (``WhisperSpec`` revision 3) fuses the self-attention's q/k/v into one
``linear_0`` and the cross-attention's k/v into ``linear_1``; Whisper's key projection has no
bias, so the fused bias holds zeros there (checked). The output projection is an alias of
the token embedding (tied, as in transformers).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16)  # bfloat16 (5) not read
BINARY_VERSION = 6


@dataclass(frozen=True)
class Ct2Model:
    """The contents of a ``model.bin``."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = memoryview(data), 0

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def string(self) -> str:
        (size,) = self.unpack("H")
        raw = bytes(self.data[self.pos : self.pos + size])
        self.pos += size
        assert raw.endswith(b"\0"), "a CTranslate2 string must end in NUL"
        return raw[:-1].decode("utf-8")

    def array(self, dtype_id: int, shape: tuple[int, ...], size: int) -> np.ndarray:
        assert dtype_id < len(DTYPES), f"unsupported CTranslate2 dtype id {dtype_id}"
        raw = self.data[self.pos : self.pos + size]
        self.pos += size
        return np.frombuffer(raw, dtype=np.dtype(DTYPES[dtype_id]).newbyteorder("<")).reshape(shape)


def read_model(path: Path) -> Ct2Model:
    """Every variable and alias of a CTranslate2 ``model.bin`` (binary version 6)."""
    reader = _Reader(path.read_bytes())
    (version,) = reader.unpack("I")
    assert version == BINARY_VERSION, f"CTranslate2 binary version {version}, expected 6"
    spec = reader.string()
    revision, count = reader.unpack("II")
    variables: dict[str, np.ndarray] = {}
    for _ in range(count):
        name = reader.string()
        (rank,) = reader.unpack("B")
        shape = reader.unpack("I" * rank)
        dtype_id, size = reader.unpack("BI")
        variables[name] = reader.array(dtype_id, shape, size)
    (alias_count,) = reader.unpack("I")
    aliases = {}
    for _ in range(alias_count):
        alias = reader.string()
        aliases[alias] = reader.string()
    assert reader.pos == len(reader.data), "trailing bytes after the aliases"
    return Ct2Model(spec, revision, variables, aliases)


def _fp32(value: np.ndarray) -> Any:
    import torch  # noqa: PLC0415

    return torch.from_numpy(value.astype(np.float32))


def _linear(
    state: dict[str, Any], target: str, weights: dict[str, np.ndarray], source: str
) -> None:
    state[f"{target}.weight"] = _fp32(weights[f"{source}/weight"])
    state[f"{target}.bias"] = _fp32(weights[f"{source}/bias"])


def _norm(state: dict[str, Any], target: str, weights: dict[str, np.ndarray], source: str) -> None:
    state[f"{target}.weight"] = _fp32(weights[f"{source}/gamma"])
    state[f"{target}.bias"] = _fp32(weights[f"{source}/beta"])


def _split(
    state: dict[str, Any], target: str, weights: dict[str, np.ndarray], source: str, names: str
) -> None:
    """A fused projection (``qkv`` or ``kv``) into transformers' separate ones."""
    parts_w = np.split(weights[f"{source}/weight"], len(names))
    parts_b = np.split(weights[f"{source}/bias"], len(names))
    for name, w, b in zip(names, parts_w, parts_b, strict=True):
        state[f"{target}.{name}_proj.weight"] = _fp32(w)
        if name == "k":
            assert not b.any(), f"{source}: Whisper's key projection has no bias"
        else:
            state[f"{target}.{name}_proj.bias"] = _fp32(b)


def _layer(state: dict[str, Any], weights: dict[str, np.ndarray], side: str, i: int) -> None:
    src, dst = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
    _norm(state, f"{dst}.self_attn_layer_norm", weights, f"{src}/self_attention/layer_norm")
    _split(state, f"{dst}.self_attn", weights, f"{src}/self_attention/linear_0", "qkv")
    _linear(state, f"{dst}.self_attn.out_proj", weights, f"{src}/self_attention/linear_1")
    if side == "decoder":
        _norm(state, f"{dst}.encoder_attn_layer_norm", weights, f"{src}/attention/layer_norm")
        _linear(state, f"{dst}.encoder_attn.q_proj", weights, f"{src}/attention/linear_0")
        _split(state, f"{dst}.encoder_attn", weights, f"{src}/attention/linear_1", "kv")
        _linear(state, f"{dst}.encoder_attn.out_proj", weights, f"{src}/attention/linear_2")
    _norm(state, f"{dst}.final_layer_norm", weights, f"{src}/ffn/layer_norm")
    _linear(state, f"{dst}.fc1", weights, f"{src}/ffn/linear_0")
    _linear(state, f"{dst}.fc2", weights, f"{src}/ffn/linear_1")


def layer_count(weights: dict[str, np.ndarray], side: str) -> int:
    """How many layers the encoder or decoder has."""
    found = (re.match(rf"{side}/layer_(\d+)/", name) for name in weights)
    return len({match.group(1) for match in found if match})


def whisper_state_dict(model: Ct2Model) -> dict[str, Any]:
    """transformers' Whisper state dict (fp32 tensors) from a ``WhisperSpec`` model."""
    assert model.spec == "WhisperSpec", f"not a Whisper model: {model.spec}"
    weights = model.variables
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}, (
        f"unexpected aliases {model.aliases}"
    )
    state: dict[str, Any] = {}
    for conv in ("conv1", "conv2"):
        _linear(state, f"model.encoder.{conv}", weights, f"encoder/{conv}")
    for side in ("encoder", "decoder"):
        state[f"model.{side}.embed_positions.weight"] = _fp32(
            weights[f"{side}/position_encodings/encodings"]
        )
        _norm(state, f"model.{side}.layer_norm", weights, f"{side}/layer_norm")
        for i in range(layer_count(weights, side)):
            _layer(state, weights, side, i)
    state["model.decoder.embed_tokens.weight"] = _fp32(weights["decoder/embeddings/weight"])
    return state


def tensor_count(model: Ct2Model) -> dict[str, int]:
    """Weight tensors (rank > 0) and settings (scalars) in the file, and its aliases."""
    tensors = sum(1 for v in model.variables.values() if v.ndim)
    return {"tensors": tensors, "scalars": len(model.variables) - tensors,
            "aliases": len(model.aliases)}  # fmt: skip
