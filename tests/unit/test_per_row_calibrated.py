"""The per-row scheme's calibrated scale for MatMuls that read a LayerNormalization's output:
one constant activation scale (no per-row ReduceMax), close to fp32, and batch-independent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from aiaas.registration import per_row

HIDDEN, OUT = 64, 96


def norm_then_matmul(path: Path) -> Path:
    """``LayerNorm(x) @ W1`` and, on its GELU-free ReLU output, ``@ W2`` (per row stays)."""
    rng = np.random.default_rng(7)
    gamma = rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32)
    gamma[3] = 12.0  # an outlier channel, as BERT's LayerNorms have
    init = [
        numpy_helper.from_array(gamma, "gamma"),
        numpy_helper.from_array(np.zeros(HIDDEN, np.float32), "beta"),
        numpy_helper.from_array(rng.normal(0, 0.1, (HIDDEN, OUT)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.normal(0, 0.1, (OUT, HIDDEN)).astype(np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("LayerNormalization", ["x", "gamma", "beta"], ["n"], axis=-1),
        helper.make_node("MatMul", ["n", "w1"], ["h"], name="ffn1"),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "w2"], ["y"], name="ffn2"),
    ]
    graph = helper.make_graph(
        nodes,
        "norm_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "tokens", HIDDEN])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "tokens", HIDDEN])],
        init,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def open_session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_a_normalized_input_gets_one_calibrated_scale(tmp_path: Path) -> None:
    src = norm_then_matmul(tmp_path / "fp32.onnx")
    rng = np.random.default_rng(0)
    calibration = [{"x": rng.normal(0, 3, (4, 5, HIDDEN)).astype(np.float32)} for _ in range(8)]
    ranges = per_row.activation_ranges(src, calibration, open_session, tmp_path)
    rewritten = per_row.quantize_per_row(src, tmp_path / "int8.onnx", ranges, calibrated_norms=True)
    plain = per_row.quantize_per_row(src, tmp_path / "per_row.onnx", ranges)
    assert rewritten == plain == ["ffn1", "ffn2"]

    ops = Counter(n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node)
    per_row_ops = Counter(n.op_type for n in onnx.load(str(tmp_path / "per_row.onnx")).graph.node)
    assert ops["MatMulIntegerToFloat"] == per_row_ops["MatMulIntegerToFloat"] == 2
    # ffn1's input (a LayerNorm output) is quantized with a constant scale: one ReduceMax fewer
    assert per_row_ops["ReduceMax"] == 2 and ops["ReduceMax"] == 1

    x = rng.normal(0, 3, (6, 9, HIDDEN)).astype(np.float32)
    x[0, 0] *= 40  # a row far louder than any calibration row: normalized, it still fits
    want = open_session(src).run(None, {"x": x})[0]
    int8 = open_session(tmp_path / "int8.onnx")
    got = int8.run(None, {"x": x})[0]
    assert cosine(want, got).min() >= 0.995
    alone = np.concatenate([int8.run(None, {"x": x[i : i + 1]})[0] for i in range(len(x))])
    np.testing.assert_allclose(alone, got, atol=1e-5)


def test_without_the_flag_every_input_keeps_per_row_scales(tmp_path: Path) -> None:
    """The flag is opt-in: the registration gate's graphs stay per row on every input."""
    src = norm_then_matmul(tmp_path / "fp32.onnx")
    feeds = [{"x": np.random.default_rng(1).normal(0, 1, (2, 3, HIDDEN)).astype(np.float32)}]
    ranges = per_row.activation_ranges(src, feeds, open_session, tmp_path)
    per_row.quantize_per_row(src, tmp_path / "int8.onnx", ranges)
    ops = Counter(n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node)
    assert ops["ReduceMax"] == 2
