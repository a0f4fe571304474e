"""Sessions keep a residual Add + LayerNormalization as they are (onnxruntime's fused
SkipLayerNormalization is the slower CPU kernel), in the runtime and in the model build."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from aiaas_runtime import session
from modelzoo import common as modelzoo

HIDDEN = 8


def residual_layer_norm(path: Path) -> Path:
    """``LayerNorm(x + skip)``: the pattern onnxruntime fuses into SkipLayerNormalization."""
    init = [
        numpy_helper.from_array(np.linspace(0.5, 1.5, HIDDEN, dtype=np.float32), "gamma"),
        numpy_helper.from_array(np.zeros(HIDDEN, np.float32), "beta"),
    ]
    nodes = [
        helper.make_node("Add", ["x", "skip"], ["sum"]),
        helper.make_node("LayerNormalization", ["sum", "gamma", "beta"], ["y"], axis=-1),
    ]
    spec = [1, 3, HIDDEN]
    graph = helper.make_graph(
        nodes,
        "residual",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, spec) for n in ("x", "skip")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, spec)],
        init,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def optimized_ops(src: Path, dst: Path, disabled: list[str]) -> Counter[str]:
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(dst)
    ort.InferenceSession(
        str(src), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled
    )
    return Counter(node.op_type for node in onnx.load(str(dst)).graph.node)


def test_the_disabled_optimizer_is_the_one_that_fuses_skip_layer_norm(tmp_path: Path) -> None:
    src = residual_layer_norm(tmp_path / "residual.onnx")
    # onnxruntime fuses the pattern by default (the name would be silently ignored if wrong)
    assert optimized_ops(src, tmp_path / "default.onnx", [])["SkipLayerNormalization"] == 1
    kept = optimized_ops(src, tmp_path / "kept.onnx", list(session.DISABLED_OPTIMIZERS))
    assert kept["SkipLayerNormalization"] == 0
    assert kept["LayerNormalization"] == 1


def test_served_and_built_sessions_keep_the_plain_ops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = residual_layer_norm(tmp_path / "residual.onnx")
    saved = tmp_path / "served.onnx"
    tuned = session.session_options

    def saving(*args: Any, **kwargs: Any) -> Any:  # the runtime's own options, graph saved
        options = tuned(*args, **kwargs)
        options.optimized_model_filepath = str(saved)
        return options

    monkeypatch.setattr(session, "session_options", saving)
    served = session.open_session(src, prefer_gpu=False)
    ops = Counter(node.op_type for node in onnx.load(str(saved)).graph.node)
    assert ops["SkipLayerNormalization"] == 0
    assert ops["LayerNormalization"] == 1
    assert modelzoo.DISABLED_OPTIMIZERS == session.DISABLED_OPTIMIZERS
    built = modelzoo.session(src, optimized_model_filepath=str(tmp_path / "built.onnx"))
    assert Counter(n.op_type for n in onnx.load(str(tmp_path / "built.onnx")).graph.node) == ops
    x = np.random.default_rng(0).normal(size=(1, 3, HIDDEN)).astype(np.float32)
    y = served.run(None, {"x": x, "skip": x})[0]
    np.testing.assert_allclose(y, built.run(None, {"x": x, "skip": x})[0], atol=1e-6)
    gamma = np.linspace(0.5, 1.5, HIDDEN, dtype=np.float32)
    mean, var = (2 * x).mean(-1, keepdims=True), (2 * x).var(-1, keepdims=True)
    np.testing.assert_allclose(y, (2 * x - mean) / np.sqrt(var + 1e-5) * gamma, atol=1e-4)
