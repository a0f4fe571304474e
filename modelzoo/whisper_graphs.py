"""whisper-tiny-en's two graphs: the encoder with every decoder layer's cross-attention
keys and values, and the decoder with a self-attention cache (see `modelzoo.whisper`); both
exported with the TorchScript exporter, then split into a graph and its fp16 weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper

EXTERNAL = "weights.absent"  # the graphs' weights are supplied at load, never read from here
MIN_EXTERNAL = 1024  # initializers of at least this many values go to the blocks file


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    return x.view(x.shape[0], x.shape[1], heads, -1).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


class Encoder(torch.nn.Module):
    """Log-mel frames -> each decoder layer's cross-attention keys and values."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.encoder, self.layers = model.model.encoder, model.model.decoder.layers
        self.heads = model.config.decoder_attention_heads

    def forward(self, input_features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``cross_k.{i}``, ``cross_v.{i}`` per layer."""
        states = self.encoder(input_features).last_hidden_state
        out: list[torch.Tensor] = []
        for layer in self.layers:
            attention = layer.encoder_attn
            out += [_heads(attention.k_proj(states), self.heads),
                    _heads(attention.v_proj(states), self.heads)]  # fmt: skip
        return tuple(out)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any = None) -> torch.Tensor:
    weights = torch.matmul(q, k.transpose(2, 3))
    if mask is not None:
        weights = weights + mask
    return _merge(torch.matmul(torch.softmax(weights, dim=-1), v))


class Decoder(torch.nn.Module):
    """One decoder run over new tokens with a self-attention cache (transformers' modules,
    eager attention in transformers' order: the query scaled after its projection)."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.decoder = model.model.decoder
        self.heads = model.config.decoder_attention_heads

    def forward(self, input_ids: Any, position_ids: Any, *kv: torch.Tensor) -> Any:
        """``logits`` of the last position, then ``present_key.{i}``, ``present_value.{i}``."""
        layers = len(self.decoder.layers)
        cross, past = kv[: 2 * layers], kv[2 * layers :]
        x = self.decoder.embed_tokens(input_ids) + self.decoder.embed_positions.weight[position_ids]
        count, past_len = input_ids.shape[1], past[0].shape[2]
        keys = torch.arange(past_len + count)
        queries = torch.arange(count) + past_len
        mask = (keys[None, :] > queries[:, None]).to(x.dtype) * torch.finfo(x.dtype).min
        presents: list[torch.Tensor] = []
        for i, layer in enumerate(self.decoder.layers):
            attention, h = layer.self_attn, layer.self_attn_layer_norm(x)
            q = _heads(attention.q_proj(h) * attention.scaling, self.heads)
            k = torch.cat([past[2 * i], _heads(attention.k_proj(h), self.heads)], dim=2)
            v = torch.cat([past[2 * i + 1], _heads(attention.v_proj(h), self.heads)], dim=2)
            presents += [k, v]
            x = x + attention.out_proj(_attend(q, k, v, mask))
            cross_attention, h = layer.encoder_attn, layer.encoder_attn_layer_norm(x)
            q = _heads(cross_attention.q_proj(h) * cross_attention.scaling, self.heads)
            x = x + cross_attention.out_proj(_attend(q, cross[2 * i], cross[2 * i + 1]))
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        last = self.decoder.layer_norm(x[:, -1])
        return (torch.matmul(last, self.decoder.embed_tokens.weight.t()), *presents)


def export(model: Any, encoder_path: Path, decoder_path: Path) -> None:
    """Both graphs (encoder traced on one window; decoder with 3 new tokens after 4)."""
    config = model.config
    layers, heads = config.decoder_layers, config.decoder_attention_heads
    head_dim, frames = config.d_model // heads, 2 * config.max_source_positions
    features = torch.randn(1, config.num_mel_bins, frames)
    cross_names = [f"cross_{kind}.{i}" for i in range(layers) for kind in ("k", "v")]
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model).eval(), (features,), str(encoder_path),
            input_names=["input_features"], output_names=cross_names,
            opset_version=17, do_constant_folding=True, dynamo=False,
        )  # fmt: skip
        cross = Encoder(model).eval()(features)
    past_len, count = 4, 3
    ids = torch.randint(0, 1000, (1, count))
    positions = torch.arange(past_len, past_len + count)[None, :]
    past = [torch.randn(1, heads, past_len, head_dim) for _ in range(2 * layers)]
    past_names = [f"past_{kind}.{i}" for i in range(layers) for kind in ("key", "value")]
    present_names = [f"present_{kind}.{i}" for i in range(layers) for kind in ("key", "value")]
    axes: dict[str, dict[int, str]] = {"input_ids": {1: "seq"}, "position_ids": {1: "seq"}}
    axes |= {name: {2: "past"} for name in past_names}
    axes |= {name: {2: "total"} for name in present_names}
    with torch.no_grad():
        torch.onnx.export(
            Decoder(model).eval(), (ids, positions, *cross, *past), str(decoder_path),
            input_names=["input_ids", "position_ids", *cross_names, *past_names],
            output_names=["logits", *present_names], dynamic_axes=axes,
            opset_version=17, do_constant_folding=True, dynamo=False,
        )  # fmt: skip


def to_blocks(source: Path, graph: Path, weights: Path) -> dict[str, Any]:
    """Split an fp32 export into a graph with external weights and their fp16 blocks (a
    weight that is another's transpose is stored once).

    Raises:
        AssertionError: A large weight is not exactly fp16.
    """
    from aiaas_runtime import blocks  # noqa: PLC0415

    model = onnx.load(str(source))
    index: dict[str, dict[str, Any]] = {}
    parts: dict[str, dict[str, Any]] = {}
    stored: dict[tuple[int, ...], list[tuple[str, np.ndarray]]] = {}
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype != np.float32 or value.size < MIN_EXTERNAL:
            continue
        twin = next((name for name, other in stored.get(value.shape[::-1], [])
                     if value.ndim == 2 and np.array_equal(value, other.T)), None)  # fmt: skip
        if twin is not None:
            index[init.name] = {"format": "transpose", "shape": list(value.shape), "of": twin}
        else:
            packed = blocks.pack_f16(value)
            assert packed is not None, f"{init.name} is not exactly fp16"
            index[init.name] = {"format": "f16", "shape": list(value.shape)}
            parts[init.name] = packed
            stored.setdefault(value.shape, []).append((init.name, value))
        init.ClearField("raw_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        init.external_data.add(key="location", value=EXTERNAL)
    blocks.save(weights, index, parts)
    onnx.save(model, str(graph))
    counts = {kind: sum(1 for e in index.values() if e["format"] == kind) for kind in
              ("f16", "transpose")}  # fmt: skip
    return {"tensors": counts, "bytes": weights.stat().st_size, "exact": True}
