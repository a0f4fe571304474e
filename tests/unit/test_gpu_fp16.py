"""fp16 variants: the conversion, and the gate that keeps them only when they agree with fp32.

onnxruntime's CPU provider runs these fp16 graphs, so the whole decision runs here; in the
container it runs on the GPU that will serve the variant.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from aiaas.gpu.fp16 import NothingToConvert, fp16_variant, to_fp16
from aiaas.gpu.runtime import input_specs
from aiaas.registration.quantization import GateConfig
from tests.conftest import MODELS_DIR
from tests.unit import catalog_models as cm

GATE = GateConfig()


def cpu_session(data: bytes) -> Any:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def decide(data: bytes, gate: GateConfig = GATE) -> Any:
    reference = cpu_session(data)
    return fp16_variant(data, reference, list(input_specs(reference).values()), gate, cpu_session)


def out_of_range() -> bytes:
    """``y = x * 1e6 * 1e-6`` on even features, and its argmax: the identity in fp32, but
    fp16 ends at 65504 (the converter clips weights there), so even features shrink 15-fold."""
    even = np.arange(cm.FEATURES) % 2 == 0
    up = numpy_helper.from_array(np.where(even, 1e6, 1).astype(np.float32), "up")
    down = numpy_helper.from_array(np.where(even, 1e-6, 1).astype(np.float32), "down")
    nodes = [
        helper.make_node("Mul", ["x", "up"], ["scaled"]),
        helper.make_node("Mul", ["scaled", "down"], ["y"]),
        helper.make_node("ArgMax", ["y"], ["label"], axis=1, keepdims=0),
    ]
    outputs = [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", cm.FEATURES]),
        helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", cm.FEATURES])]
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=[up, down])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", cm.OPSET)])
    model.ir_version = 8
    return cm.to_bytes(model)


def test_conversion_halves_the_weights_and_keeps_fp32_inputs_and_outputs() -> None:
    fp32 = cm.to_bytes(cm.mlp())
    half = onnx.load_model_from_string(to_fp16(fp32))

    assert {init.data_type for init in half.graph.initializer} == {TensorProto.FLOAT16}
    assert half.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert half.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert len(half.SerializeToString()) < 0.6 * len(fp32)


def test_a_model_without_float_weights_is_not_converted() -> None:
    trees = (MODELS_DIR / "iris-rf" / "model.fp32.onnx").read_bytes()
    with pytest.raises(NothingToConvert):
        to_fp16(trees)
    decision = decide(trees)
    assert not decision.kept
    assert decision.reason == "skipped: no float weights to convert"


@pytest.mark.parametrize("name", ["mlp", "digits-cnn"])
def test_an_fp16_graph_that_agrees_is_kept_with_its_session(name: str) -> None:
    data = (
        cm.to_bytes(cm.mlp())
        if name == "mlp"
        else (MODELS_DIR / name / "model.fp32.onnx").read_bytes()
    )
    decision = decide(data)

    assert decision.kept, decision.reason
    assert decision.reason.startswith("fp16 agrees with fp32")
    assert all(o.metric == "cosine" and o.min > 0.999 for o in decision.outputs)
    x = np.ones([d if d > 0 else 2 for d in input_specs(decision.session)[_first(data)].shape])
    assert decision.session.run(None, {_first(data): x.astype(np.float32)})[0].dtype == np.float32


def _first(data: bytes) -> str:
    return str(cpu_session(data).get_inputs()[0].name)


def test_an_fp16_graph_that_loses_precision_is_rejected_with_the_measures() -> None:
    decision = decide(out_of_range())

    assert not decision.kept
    assert decision.session is None
    by_name = {o.name: o for o in decision.outputs}
    assert by_name["y"].metric == "cosine" and not by_name["y"].passed
    assert by_name["label"].metric == "exact_match" and not by_name["label"].passed
    assert "fp16 differs from fp32: output 'y' cosine mean" in decision.reason
    assert "output 'label' disagrees on" in decision.reason


def test_the_gate_thresholds_decide() -> None:
    lenient = GateConfig(min_mean_cosine=0, min_min_cosine=0, max_label_disagreement=1)
    assert decide(out_of_range(), lenient).kept


def test_a_failure_to_open_the_fp16_graph_is_a_reason_not_an_exception() -> None:
    data = cm.to_bytes(cm.mlp())
    reference = cpu_session(data)

    def refuse(model: bytes) -> Any:
        raise RuntimeError("CUDA failure 2: out of memory")

    decision = fp16_variant(data, reference, list(input_specs(reference).values()), GATE, refuse)
    assert not decision.kept
    assert decision.reason == "fp16 comparison with fp32 failed: CUDA failure 2: out of memory"


def test_a_model_the_converter_cannot_read_is_a_reason() -> None:
    decision = fp16_variant(b"not onnx", None, [], GATE, cpu_session)
    assert not decision.kept
    assert decision.reason.startswith("fp16 conversion failed")
