"""Per-row (per-token) int8 quantization of a graph's MatMuls, with SmoothQuant scales.

onnxruntime's dynamic quantization picks one activation scale per tensor at run time: for an
embedding model the whole [batch, sequence, hidden] tensor shares it, so a short query's few
tokens are resolved as coarsely as the widest token of its batch neighbours (issue #12: cosine
to fp32 0.959 on one-character inputs, and one text's embedding changing with its batch).

Here each MatMul ``Y = A @ W`` with a constant 2-D ``W`` becomes, in plain ONNX and
onnxruntime's ``MatMulIntegerToFloat``:

- ``A`` is divided by per-input-channel smoothing factors ``s`` (SmoothQuant, alpha 0.5:
  ``s = max|A_j|^0.5 / max|W_j|^0.5`` from calibration texts), and ``W`` multiplied by them,
  which moves BERT's outlier channels' range from the activations into the weights;
- the rows of ``A`` (one per token) are quantized to uint8, each with its own scale
  (``max |row| / 127``, zero point 128), so no row depends on any other row, in its sequence
  or in the batch;
- ``W`` is int8 with one scale per output column, in 7 bits (``reduce_range``: on AVX2 without
  VNNI, u8 x s8 pair sums saturate int16 with 8-bit weights; measured worse);
- ``Y = (A_q - 128) @ W_q * w_scale * row_scale``.

The result depends on each token's own values only: an input embeds the same alone and in any
batch (up to float summation order, cosine >= 0.99999).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ALPHA = 0.5
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


def activation_ranges(
    src: Path,
    feeds: Iterable[Mapping[str, np.ndarray]],
    session: Callable[[Path], Any],
    scratch: Path,
) -> dict[str, np.ndarray]:
    """max |A_j| per input channel of every weight MatMul's input ``A``, over ``feeds``.

    Args:
        src: The float graph.
        feeds: Calibration inputs (one run each).
        session: Makes an onnxruntime session for a graph file.
        scratch: A directory for the instrumented copy of the graph.
    """
    model = onnx.load(str(src))
    names = sorted({node.input[0] for node in weight_matmuls(model)})
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
    """The new nodes and initializers of a rewrite."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))


def quantize_per_row(
    src: Path,
    dst: Path,
    ranges: dict[str, np.ndarray],
    exclude: Iterable[str] = (),
    leading_shape_of: str = "",
) -> list[str]:
    """Rewrite ``src``'s weight MatMuls (but those named in ``exclude``) as described in the
    module; the names (or, for unnamed nodes, the outputs) of the rewritten nodes.

    ``leading_shape_of`` names a graph input whose shape is every rewritten MatMul's input
    shape but its last axis (``input_ids`` [batch, sequence] for an encoder): the outputs'
    shapes are then computed once, not once per MatMul.
    """
    model = onnx.load(str(src))
    weights = {init.name: init for init in model.graph.initializer}
    excluded = set(exclude)
    doomed = {n.output[0] for n in weight_matmuls(model) if n.name not in excluded}
    out = _Graph()
    shared = {
        "eps": out.const("pr_eps", np.array(1e-8, np.float32)),
        "inv127": out.const("pr_inv127", np.array(1 / 127, np.float32)),
        "zero": out.const("pr_zero", np.array(0.0, np.float32)),
        "mid": out.const("pr_128f", np.array(128.0, np.float32)),
        "zp": out.const("pr_zp", np.array(128, np.uint8)),
        "one": out.const("pr_one", np.array(1.0, np.float32)),
        "column": out.const("pr_column", np.array([-1, 1], np.int64)),
        "start": out.const("pr_start", np.array([0], np.int64)),
        "end": out.const("pr_end", np.array([-1], np.int64)),
    }
    if leading_shape_of:
        out.node("Shape", [leading_shape_of], ["pr_leading_shape"])
        shared["lead"] = "pr_leading_shape"
    rewritten: list[str] = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or node.output[0] not in doomed:  # names may be empty
            out.nodes.append(node)
            continue
        weight = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        prefix = f"pr{len(rewritten)}_"
        _rewrite(out, shared, node, weight, a_range=ranges.get(node.input[0]), p=prefix)
        rewritten.append(node.name or node.output[0])
    used = {name for n in out.nodes for name in n.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.node[:]
    model.graph.node.extend(out.nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept + out.initializers)
    if not any(o.domain == MS_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return rewritten


def _rewrite(
    out: _Graph,
    shared: dict[str, str],
    node: onnx.NodeProto,
    weight: np.ndarray,
    *,
    a_range: np.ndarray | None,
    p: str,
) -> None:
    """One MatMul as smoothing, per-row uint8 activations, int8 columns (see module)."""
    a = node.input[0]
    if a_range is not None:
        smooth = np.maximum(a_range, 1e-5) ** ALPHA
        smooth /= np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - ALPHA)
        smooth = np.clip(smooth, 1e-2, 1e2).astype(np.float32)
        weight = weight * smooth[:, None]
        out.node("Mul", [a, out.const(p + "smooth", 1 / smooth)], [p + "smoothed"])
        a = p + "smoothed"
    qmax = 2 ** (WEIGHT_BITS - 1) - 1
    w_scale = (np.maximum(np.abs(weight).max(axis=0), 1e-12) / qmax).astype(np.float32)
    w_q = np.clip(np.round(weight / w_scale), -qmax, qmax).astype(np.int8)
    rows = out.const(p + "rows", np.array([-1, weight.shape[0]], np.int64))
    out_shape = _output_shape(out, shared, a, weight.shape[1], p)
    out.node("Reshape", [a, rows], [p + "a2"])
    out.node("Abs", [p + "a2"], [p + "abs"])
    out.node("ReduceMax", [p + "abs"], [p + "max"], axes=[1], keepdims=0)
    out.node("Max", [p + "max", shared["eps"]], [p + "max_eps"])
    out.node("Mul", [p + "max_eps", shared["inv127"]], [p + "scale"])
    out.node("Mul", [p + "scale", shared["zero"]], [p + "zeros"])  # zero points, one per row
    out.node("Add", [p + "zeros", shared["mid"]], [p + "mids"])
    out.node("Cast", [p + "mids"], [p + "zps"], to=TensorProto.UINT8)
    out.node("QuantizeLinear", [p + "a2", p + "scale", p + "zps"], [p + "aq"], axis=0)
    out.node(
        "MatMulIntegerToFloat",
        [p + "aq", out.const(p + "wq", w_q), shared["one"], out.const(p + "ws", w_scale),
         shared["zp"]],
        [p + "y"],
        domain=MS_DOMAIN,
    )  # fmt: skip
    out.node("Reshape", [p + "scale", shared["column"]], [p + "scale_col"])
    out.node("Mul", [p + "y", p + "scale_col"], [p + "y_scaled"])
    out.nodes.append(
        helper.make_node("Reshape", [p + "y_scaled", out_shape], [node.output[0]], name=node.name)
    )


def _output_shape(out: _Graph, shared: dict[str, str], a: str, columns: int, p: str) -> str:
    """The rewritten MatMul's output shape: ``a``'s with ``columns`` last (one per width when
    the leading shape is shared)."""
    width = out.const(p + "columns", np.array([columns], np.int64))
    if "lead" in shared:
        name = f"pr_output_shape_{columns}"
        if name not in shared:
            out.node("Concat", [shared["lead"], width], [name], axis=0)
            shared[name] = name
        return name
    out.node("Shape", [a], [p + "shape"])
    out.node("Slice", [p + "shape", shared["start"], shared["end"]], [p + "lead"])
    out.node("Concat", [p + "lead", width], [p + "out_shape"], axis=0)
    return p + "out_shape"
