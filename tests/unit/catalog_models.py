"""Small ONNX models, good and bad, built fresh for the catalog's validation tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

OPSET = 17
FEATURES = 16
HIDDEN = 64
CLASSES = 8


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: list[onnx.TensorProto] | None = None,
    *,
    opset: int = OPSET,
    extra_opsets: dict[str, int] | None = None,
) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=initializers or [])
    imports = [helper.make_opsetid("", opset)]
    imports += [helper.make_opsetid(d, v) for d, v in (extra_opsets or {}).items()]
    model = helper.make_model(graph, opset_imports=imports, producer_name="aiaas-tests")
    model.ir_version = 8  # readable by every onnxruntime we run
    return model


def _float_input(name: str = "x", width: int = FEATURES) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", width])


def mlp(*, opset: int = OPSET, seed: int = 0) -> onnx.ModelProto:
    """A two-layer perceptron: ``x [batch, 16]``, MatMul+Add, Relu, MatMul+Add, ``y [batch, 8]``."""
    rng = _rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        scale = 1 / np.sqrt(shape[0]) if len(shape) == 2 else 0.1
        return numpy_helper.from_array(
            (rng.standard_normal(shape) * scale).astype(np.float32), name
        )

    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["y0"]),
        helper.make_node("Add", ["y0", "b2"], ["y"]),
    ]
    weights = [
        weight("w1", FEATURES, HIDDEN),
        weight("b1", HIDDEN),
        weight("w2", HIDDEN, CLASSES),
        weight("b2", CLASSES),
    ]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", CLASSES])
    return _model(nodes, [_float_input()], [output], weights, opset=opset)


def to_bytes(model: onnx.ModelProto) -> bytes:
    """Serialize a model the way an upload carries it."""
    return model.SerializeToString()


def _wine_classifier() -> tuple[Pipeline, np.ndarray]:
    """A scaled LogisticRegression fitted on scikit-learn's bundled wine data, and its rows."""
    features, labels = load_wine(return_X_y=True)
    features = features.astype(np.float32)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    classifier.fit(features, labels)
    return classifier, features


def logistic_regression(*, zipmap: bool = False) -> onnx.ModelProto:
    """A scaled LogisticRegression on scikit-learn's bundled wine data, through skl2onnx."""
    classifier, features = _wine_classifier()
    model = to_onnx(
        classifier,
        features[:1],
        options={"zipmap": zipmap},
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )
    assert isinstance(model, onnx.ModelProto)
    return model


def logistic_regression_default_opset() -> onnx.ModelProto:
    """The same classifier exported as a user would: skl2onnx's defaults, no ``target_opset``.

    Its opsets are whatever this skl2onnx emits (skl2onnx 1.20: ``ai.onnx`` 22).
    """
    classifier, features = _wine_classifier()
    model = to_onnx(classifier, features[:1], options={"zipmap": False})
    assert isinstance(model, onnx.ModelProto)
    return model


def default_opset(model: onnx.ModelProto) -> int:
    """The default-domain (``ai.onnx``) opset a model imports."""
    return int(max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))


def undefined_input() -> onnx.ModelProto:
    """A node reads ``ghost``, which nothing defines."""
    node = helper.make_node("Add", ["x", "ghost"], ["y"])
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", FEATURES])
    return _model([node], [_float_input()], [output])


def custom_op() -> onnx.ModelProto:
    """A node of a made-up operator in a custom domain."""
    node = helper.make_node("FancyActivation", ["x"], ["y"], domain="com.example")
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", FEATURES])
    return _model([node], [_float_input()], [output], extra_opsets={"com.example": 1})


def unknown_contrib_op() -> onnx.ModelProto:
    """An operator in onnxruntime's own domain that onnxruntime does not have: fails to load."""
    node = helper.make_node("NoSuchKernel", ["x"], ["y"], domain="com.microsoft")
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", FEATURES])
    return _model([node], [_float_input()], [output], extra_opsets={"com.microsoft": 1})


def external_data() -> onnx.ModelProto:
    """The MLP with its first weight moved to a side file that the upload cannot carry."""
    model = mlp()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in {"location": "weights.bin", "offset": "0", "length": "4096"}.items():
        weight.external_data.append(onnx.StringStringEntryProto(key=key, value=value))
    return model


def impossible_reshape() -> onnx.ModelProto:
    """Loads, but reshaping ``[batch, 16]`` into ``[7]`` fails when it runs."""
    target = numpy_helper.from_array(np.array([7], dtype=np.int64), "target")
    node = helper.make_node("Reshape", ["x", "target"], ["y"])
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, [7])
    return _model([node], [_float_input()], [output], [target])


def sequence_input() -> onnx.ModelProto:
    """Takes a sequence of tensors, which no request can carry."""
    seq = helper.make_tensor_sequence_value_info("xs", TensorProto.FLOAT, ["batch", FEATURES])
    position = numpy_helper.from_array(np.array(0, dtype=np.int64), "position")
    node = helper.make_node("SequenceAt", ["xs", "position"], ["y"])
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", FEATURES])
    return _model([node], [seq], [output], [position])


def bfloat16_input() -> onnx.ModelProto:
    """Takes bfloat16, which has no Open Inference Protocol datatype and no NumPy dtype."""
    source = helper.make_tensor_value_info("x", TensorProto.BFLOAT16, ["batch", FEATURES])
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", FEATURES])
    return _model([node], [source], [output])


def random_bytes(size: int = 4096, seed: int = 0) -> bytes:
    """Noise of a plausible size."""
    return _rng(seed).bytes(size)


def token_embedder(*, vocab: int = 30522, dim: int = 32, seed: int = 0) -> onnx.ModelProto:
    """A text embedding graph fed token ids: masked mean of an embedding table, L2 normalized.

    Inputs ``input_ids`` and ``attention_mask`` (INT64 ``[batch, seq]``), output
    ``sentence_embedding`` (FP32 ``[batch, dim]``): the shape of MiniLM's exported graph.
    """
    table = numpy_helper.from_array(
        _rng(seed).standard_normal((vocab, dim)).astype(np.float32), "table"
    )
    axes_last = numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes_last")
    axes_seq = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes_seq")
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axes_last"], ["mask3"]),
        helper.make_node("Mul", ["vectors", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axes_seq"], ["total"], keepdims=0),
        helper.make_node("ReduceSum", ["maskf", "axes_seq"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["safe_count"]),  # an all-padding row
        helper.make_node("Div", ["total", "safe_count"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["sentence_embedding"], axis=1, p=2),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask")
    ]
    output = helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", dim])
    one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
    return _model(nodes, inputs, [output], [table, axes_last, axes_seq, one])
