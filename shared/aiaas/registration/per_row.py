"""Per-row (per-token) int8 quantization of a graph's MatMuls, with SmoothQuant scales.

onnxruntime's dynamic quantization picks one activation scale per tensor at run time: for an
embedding model the whole [batch, sequence, hidden] tensor shares it, so a short query's few
tokens are resolved as coarsely as the widest token of its batch neighbours (issue #12: cosine
to fp32 0.959 on one-character inputs, and one text's embedding changing with its batch).

Here each MatMul ``Y = A @ W`` with a constant 2-D ``W`` becomes, in plain ONNX and
onnxruntime's ``MatMulIntegerToFloat`` (8 nodes, on ``A`` of any rank, no reshapes):

- ``A`` is divided by per-input-channel smoothing factors ``s`` (SmoothQuant, alpha 0.5:
  ``s = max|A_j|^0.5 / max|W_j|^0.5`` from calibration texts), and ``W`` multiplied by them,
  which moves BERT's outlier channels' range from the activations into the weights; when ``A``
  is the output of onnxruntime's fused ``Attention`` (and nothing else reads it), ``1/s`` is
  folded into the V columns of its weights and bias instead (exact: each output channel is a
  mix of the same V channel over tokens), which saves the ``Mul``;
- the rows of ``A`` (one per token) are quantized to uint8, each with its own scale:
  ``m = max(max |row|, 1e-8)`` (``Abs``, ``ReduceMax`` keeping the last axis, ``Max``), then
  ``QuantizeLinear(A / m, 1/127, 128)``, so no row depends on any other row, in its sequence
  or in the batch;
- ``W`` is int8 with one scale per output column, in 7 bits (``reduce_range``: on AVX2 without
  VNNI, u8 x s8 pair sums saturate int16 with 8-bit weights; measured worse);
- ``Y = (A_q - 128) @ W_q * w_scale / 127 * m``.

With ``attention=True`` the fused ``Attention`` nodes' QKV projection is quantized the same way
(SmoothQuant alpha 0.65 on its input) and the attention itself becomes onnxruntime's
``MultiHeadAttention`` on the split Q, K, V (bias and key padding mask passed through).

With ``calibrated_norms=True`` the MatMuls whose input is a ``LayerNormalization``'s output
(the QKV projection and the first FFN MatMul of a BERT layer) take one calibrated activation
scale instead: ``t = max_j (max |A_j| / s_j) / 127`` over the calibration inputs, with
SmoothQuant alpha 0.65 (0.8 on the QKV input) to flatten the channels first. A normalized
row's range hardly moves from token to token, so the static scale costs little on MiniLM's
held-out edge cases (min cosine 0.982 against 0.983 per row, mean 0.994 both), and it drops
four nodes per MatMul and the ``Mul`` after it: ``QuantizeLinear(A / s, t, 128)`` then
``MatMulIntegerToFloat`` with ``a_scale = t``; with ``attention=True`` the QKV projection and
attention become one onnxruntime ``QAttention``. Values past the calibrated range saturate at
0 or 255 (a margin under 1 is what hurts: 0.8 x the range drops min cosine to 0.94). The
other MatMuls' inputs (attention output, GELU output) keep per-row scales: static there drops
min cosine to 0.79.

The result depends on each token's own values only: an input embeds the same alone and in any
batch (up to float summation order, cosine >= 0.99999).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ALPHA = 0.5
ATTENTION_ALPHA = 0.65  # the QKV projection's input (measured: 0.5 drops min cosine to 0.979)
# calibrated (static) scales after a LayerNormalization: the FFN input, the QKV input (measured
# on MiniLM's edge cases: 0.5 / 0.65 give min cosine 0.980, 0.65 / 0.8 give 0.983)
CALIBRATED_ALPHA = 0.65
CALIBRATED_ATTENTION_ALPHA = 0.8
NORMS = frozenset(
    {
        "LayerNormalization",
        "SkipLayerNormalization",
        "SimplifiedLayerNormalization",
        "SkipSimplifiedLayerNormalization",
    }
)
WEIGHT_BITS = 7
MS_DOMAIN = "com.microsoft"


def weight_matmuls(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The MatMuls whose second input is a constant 2-D matrix."""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    return [
        node
        for node in model.graph.node
        if node.op_type == "MatMul" and len(shapes.get(node.input[1], ())) == 2
    ]


def fused_attentions(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """onnxruntime's fused ``Attention`` nodes of the plain form (as its BERT optimizer writes
    them): constant [hidden, 3 * hidden] Q|K|V weights and bias, at most a mask besides, one
    output, no attribute but ``num_heads``, ``mask_filter_value`` and ``scale``."""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    found = []
    for node in model.graph.node:
        if node.op_type != "Attention" or node.domain != MS_DOMAIN:
            continue
        weight, bias = (
            shapes.get(node.input[1], ()),
            shapes.get(node.input[2] if len(node.input) > 2 else "", ()),
        )
        if (
            len(weight) == 2
            and weight[1] == 3 * weight[0]
            and bias == (weight[1],)
            and len(node.input) <= 4
            and len(node.output) == 1
            and {a.name for a in node.attribute} <= {"num_heads", "mask_filter_value", "scale"}
        ):
            found.append(node)
    return found


def activation_ranges(
    src: Path,
    feeds: Iterable[Mapping[str, np.ndarray]],
    session: Callable[[Path], Any],
    scratch: Path,
) -> dict[str, np.ndarray]:
    """max |A_j| per input channel of every weight MatMul's (and fused ``Attention``'s) input
    ``A``, over ``feeds``.

    Args:
        src: The float graph.
        feeds: Calibration inputs (one run each).
        session: Makes an onnxruntime session for a graph file.
        scratch: A directory for the instrumented copy of the graph.
    """
    model = onnx.load(str(src))
    names = sorted({node.input[0] for node in [*weight_matmuls(model), *fused_attentions(model)]})
    for name in names:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    instrumented = scratch / "activation_ranges.onnx"
    onnx.save(model, str(instrumented))
    sess = session(instrumented)
    ranges: dict[str, np.ndarray] = {}
    for feed in feeds:
        for name, value in zip(names, sess.run(names, dict(feed)), strict=True):
            row_max = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[name] = np.maximum(ranges.get(name, 0.0), row_max)
    return ranges


class _Graph:
    """The new nodes and initializers of a rewrite, and the constants they share."""

    def __init__(self, opset: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.opset = opset
        self.eps = self.const("pr_eps", np.array(1e-8, np.float32))
        self.inv127 = self.const("pr_inv127", np.array(1 / 127, np.float32))
        self.zp = self.const("pr_zp", np.array(128, np.uint8))
        self.last = self.const("pr_last_axis", np.array([-1], np.int64))

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def replace(self, node: onnx.NodeProto, op: str, inputs: list[str], **attrs: Any) -> None:
        """An onnxruntime contrib ``op`` in ``node``'s place: its name and outputs."""
        self.nodes.append(
            helper.make_node(
                op, inputs, list(node.output), name=node.name, domain=MS_DOMAIN, **attrs
            )
        )


def quantize_per_row(
    src: Path,
    dst: Path,
    ranges: dict[str, np.ndarray],
    exclude: Iterable[str] = (),
    *,
    attention: bool = False,
    calibrated_norms: bool = False,
) -> list[str]:
    """Rewrite ``src``'s weight MatMuls (but those named in ``exclude``) as described in the
    module; the names (or, for unnamed nodes, the outputs) of the rewritten nodes.

    ``attention`` also rewrites the fused ``Attention`` nodes (``fused_attentions``) as int8
    QKV + ``MultiHeadAttention``: only for graphs whose attention masks ``MultiHeadAttention``
    takes as its key padding mask ([batch] lengths or [batch, sequence]), as onnxruntime's BERT
    optimizer writes them. ``calibrated_norms`` gives the MatMuls (and Attentions) that read a
    normalization's output one calibrated activation scale (see module): only when ``ranges``
    come from inputs like those the model will serve.
    """
    model = onnx.load(str(src))
    opset = next((o.version for o in model.opset_import if o.domain in {"", "ai.onnx"}), 1)
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    excluded = set(exclude)
    doomed = {n.output[0] for n in weight_matmuls(model) if n.name not in excluded}
    attentions = {n.output[0]: n for n in fused_attentions(model)}
    calibrated = _normalized(model) & set(ranges) if calibrated_norms else set()
    plan = _plan(model, weights, doomed, attentions, _Ranges(ranges, calibrated))
    out = _Graph(opset)
    rewritten: list[str] = []
    for node in model.graph.node:
        key, p = (node.output[0] if node.output else ""), f"pr{len(rewritten)}_"
        if node.op_type == "MatMul" and key in doomed:  # names may be empty
            _matmul(out, node, weights[node.input[1]].astype(np.float32), plan, p)
            rewritten.append(node.name or key)
        elif key in attentions and (
            key in plan.folded or (attention and node.name not in excluded)
        ):
            qkv_w = weights[node.input[1]].astype(np.float32)
            qkv_b = weights[node.input[2]].astype(np.float32)
            if key in plan.folded:  # 1/s of the next MatMul into the V columns
                hidden = plan.folded[key].shape[0]
                qkv_w[:, 2 * hidden :] /= plan.folded[key][None, :]
                qkv_b[2 * hidden :] /= plan.folded[key]
            if attention and node.name not in excluded:
                a = node.input[0]
                _attention(out, node, (qkv_w, qkv_b), ranges.get(a), p, static=a in calibrated)
                rewritten.append(node.name or key)
            else:
                copy = onnx.NodeProto.FromString(node.SerializeToString())
                copy.input[1] = out.const(p + "qkv_w", qkv_w)
                copy.input[2] = out.const(p + "qkv_b", qkv_b)
                out.nodes.append(copy)
        else:
            out.nodes.append(node)
    _save(model, out, dst)
    return rewritten


def _save(model: onnx.ModelProto, out: _Graph, dst: Path) -> None:
    """``model`` with ``out``'s nodes and the initializers they use, checked, to ``dst``."""
    used = {name for n in out.nodes for name in n.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    added = [init for init in out.initializers if init.name in used]
    del model.graph.node[:]
    model.graph.node.extend(out.nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + added)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


@dataclass(frozen=True)
class _Ranges:
    """Calibration: ``max |A_j|`` by input tensor, and the inputs that get a calibrated scale."""

    by_input: dict[str, np.ndarray]
    calibrated: set[str]


@dataclass(frozen=True)
class _Plan:
    """Each rewritten MatMul's smoothing factors (by output), those folded into the
    ``Attention`` that alone feeds it (by that Attention's output), and the ranges."""

    smooth: dict[str, np.ndarray]
    folded: dict[str, np.ndarray]
    ranges: _Ranges


def _matmul(out: _Graph, node: onnx.NodeProto, weight: np.ndarray, plan: _Plan, p: str) -> None:
    """One weight MatMul, smoothed unless its input has no range, per row or calibrated."""
    a, key = node.input[0], node.output[0]
    a_max = None
    if key in plan.smooth:
        s = plan.smooth[key]
        weight = weight * s[:, None]
        if a in plan.ranges.calibrated:
            a_max = float((plan.ranges.by_input[a] / s).max())
        if a not in plan.folded:
            out.node("Mul", [a, out.const(p + "smooth", 1 / s)], [p + "sm"])
            a = p + "sm"
    if a_max is None:
        _per_row_matmul(out, a, weight, key, p, name=node.name)
    else:
        _calibrated_matmul(out, a, weight, key, p, a_max=a_max, name=node.name)


def _plan(
    model: onnx.ModelProto,
    weights: dict[str, np.ndarray],
    doomed: set[str],
    attentions: dict[str, onnx.NodeProto],
    ranges: _Ranges,
) -> _Plan:
    """Each rewritten MatMul's smoothing factors and where they fold (``_Plan``); inputs with
    a calibrated scale are smoothed with ``CALIBRATED_ALPHA``."""
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    outputs = {o.name for o in model.graph.output}
    smooth: dict[str, np.ndarray] = {}
    folded: dict[str, np.ndarray] = {}
    for node in model.graph.node:
        a = node.input[0] if node.input else ""
        if node.op_type != "MatMul" or node.output[0] not in doomed or a not in ranges.by_input:
            continue
        weight = weights[node.input[1]].astype(np.float32)
        alpha = CALIBRATED_ALPHA if a in ranges.calibrated else ALPHA
        smooth[node.output[0]] = s = _smoothing(ranges.by_input[a], weight, alpha)
        producer = attentions.get(a)
        if (
            producer is not None
            and readers[a] == 1
            and a not in outputs
            and readers[producer.input[1]] == readers[producer.input[2]] == 1
            and weights[producer.input[1]].shape[1] == 3 * s.shape[0]
        ):
            folded[a] = s
    return _Plan(smooth, folded, ranges)


def _normalized(model: onnx.ModelProto) -> set[str]:
    """The tensors that are a normalization's first output (one row: one normalized vector)."""
    return {node.output[0] for node in model.graph.node if node.op_type in NORMS and node.output}


def _smoothing(a_range: np.ndarray, weight: np.ndarray, alpha: float) -> np.ndarray:
    """SmoothQuant's per-input-channel factors ``s`` (``A / s``, ``s * W``)."""
    s: np.ndarray = np.maximum(a_range, 1e-5) ** alpha
    s /= np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - alpha)
    clipped: np.ndarray = np.clip(s, 1e-2, 1e2).astype(np.float32)
    return clipped


def _int8_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``weight`` as int8 (``WEIGHT_BITS`` range) with one scale per output column."""
    qmax = 2 ** (WEIGHT_BITS - 1) - 1
    w_scale = (np.maximum(np.abs(weight).max(axis=0), 1e-12) / qmax).astype(np.float32)
    w_q = np.clip(np.round(weight / w_scale), -qmax, qmax).astype(np.int8)
    return w_q, w_scale


def _calibrated_quantize(out: _Graph, a: str, a_max: float, p: str) -> str:
    """``a`` as uint8 with the calibrated scale ``a_max / 127`` (zero point 128); the scale's
    name."""
    scale = out.const(p + "a_scale", np.array(max(a_max, 1e-8) / 127, np.float32))
    out.node("QuantizeLinear", [a, scale, out.zp], [p + "aq"])
    return scale


def _calibrated_matmul(
    out: _Graph, a: str, weight: np.ndarray, y: str, p: str, *, a_max: float, name: str = ""
) -> None:
    """``y = a @ weight`` as uint8 ``a`` with one calibrated scale times int8 columns."""
    w_q, w_scale = _int8_columns(weight)
    scale = _calibrated_quantize(out, a, a_max, p)
    inputs = [p + "aq", out.const(p + "wq", w_q), scale, out.const(p + "ws", w_scale), out.zp]
    out.node("MatMulIntegerToFloat", inputs, [y], name=name, domain=MS_DOMAIN)


def _per_row_matmul(
    out: _Graph, a: str, weight: np.ndarray, y: str, p: str, *, name: str = ""
) -> None:
    """``y = a @ weight`` as per-row uint8 ``a`` times int8 columns (see module)."""
    w_q, w_scale = _int8_columns(weight)
    out.node("Abs", [a], [p + "abs"])
    if out.opset >= 18:
        out.node("ReduceMax", [p + "abs", out.last], [p + "max"], keepdims=1)
    else:
        out.node("ReduceMax", [p + "abs"], [p + "max"], axes=[-1], keepdims=1)
    out.node("Max", [p + "max", out.eps], [p + "m"])  # one per row, last axis kept
    out.node("Div", [a, p + "m"], [p + "unit"])
    out.node("QuantizeLinear", [p + "unit", out.inv127, out.zp], [p + "aq"])
    out.node(
        "MatMulIntegerToFloat",
        [p + "aq", out.const(p + "wq", w_q), out.inv127, out.const(p + "ws", w_scale), out.zp],
        [p + "y"],
        domain=MS_DOMAIN,
    )
    out.nodes.append(helper.make_node("Mul", [p + "y", p + "m"], [y], name=name))


def _attention(
    out: _Graph,
    node: onnx.NodeProto,
    qkv: tuple[np.ndarray, np.ndarray],
    a_range: np.ndarray | None,
    p: str,
    *,
    static: bool = False,
) -> None:
    """A fused ``Attention`` as per-row int8 QKV, ``Split`` and ``MultiHeadAttention``; with
    ``static`` (a calibrated input scale), as one ``QAttention``."""
    a, (qkv_w, qkv_b) = node.input[0], qkv
    attrs = {x.name: helper.get_attribute_value(x) for x in node.attribute}
    static = static and a_range is not None and set(attrs) <= {"num_heads"}
    if a_range is not None:
        s = _smoothing(a_range, qkv_w, CALIBRATED_ATTENTION_ALPHA if static else ATTENTION_ALPHA)
        qkv_w = qkv_w * s[:, None]
        out.node("Mul", [a, out.const(p + "smooth", 1 / s)], [p + "smoothed"])
        a = p + "smoothed"
        if static:
            a_max = float((a_range / s).max())
            _quantized_attention(out, node, (a, a_max), (qkv_w, qkv_b), p, attrs=attrs)
            return
    _per_row_matmul(out, a, qkv_w, p + "qkv", p)
    hidden = qkv_w.shape[0]
    parts = [p + "q", p + "k", p + "v"]
    if out.opset >= 13:
        sizes = out.const(p + "split", np.array([hidden] * 3, np.int64))
        out.node("Split", [p + "qkv", sizes], parts, axis=-1)
    else:
        out.node("Split", [p + "qkv"], parts, axis=-1, split=[hidden] * 3)
    mask = node.input[3] if len(node.input) > 3 else ""
    inputs = (
        [*parts, out.const(p + "bias", qkv_b), mask]
        if mask
        else [*parts, out.const(p + "bias", qkv_b)]
    )
    out.replace(node, "MultiHeadAttention", inputs, **attrs)


def _quantized_attention(
    out: _Graph,
    node: onnx.NodeProto,
    source: tuple[str, float],
    qkv: tuple[np.ndarray, np.ndarray],
    p: str,
    *,
    attrs: dict[str, Any],
) -> None:
    """A fused ``Attention`` as onnxruntime's ``QAttention``: the uint8 input (``source``: its
    name and calibrated ``max |A|``), int8 QKV columns with their own scales, the same mask and
    attributes (``num_heads`` only: the caller checks)."""
    (a, a_max), (qkv_w, qkv_b) = source, qkv
    w_q, w_scale = _int8_columns(qkv_w)
    scale = _calibrated_quantize(out, a, a_max, p)
    mask = node.input[3] if len(node.input) > 3 else ""
    inputs = [
        p + "aq",
        out.const(p + "wq", w_q),
        out.const(p + "bias", qkv_b),
        scale,
        out.const(p + "ws", w_scale),
        mask,
        out.zp,
        out.const(p + "wz", np.zeros(w_q.shape[1], np.int8)),
    ]
    out.replace(node, "QAttention", inputs, **attrs)
