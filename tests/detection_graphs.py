"""Small synthetic detectors for the object-detection tests: ONNX graphs whose outputs are
constants we construct (they read the image only to depend on it), in ultralytics' YOLO
layout or an SSD's three outputs."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SIZE = 64
LABELS = ["cat", "dog"]


def constant_graph(outputs: dict[str, np.ndarray], size: int = SIZE) -> bytes:
    """``images`` [1, 3, size, size] -> each named constant (plus 0 x the image's mean)."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    initializers = [numpy_helper.from_array(np.zeros(1, np.float32), "zero")]
    values = []
    for name, value in outputs.items():
        initializers.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", "nothing"], [name]))
        values.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(
        nodes,
        "detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        values,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def yolo_output() -> np.ndarray:
    """[1, 4 + 2, 5]: cx, cy, w, h in input pixels, then the cat and dog scores per anchor.

    anchor 0: a cat at 0.9; 1: the same cat, shifted a pixel, at 0.8 (suppressed);
    2: a dog at 0.7 on the cat's box (another class: kept); 3: a cat at 0.1 (under
    min_score); 4: a dog at 0.6 elsewhere.
    """
    anchors = [
        ((20, 32, 10, 10), (0.9, 0.05)),
        ((21, 32, 10, 10), (0.8, 0.05)),
        ((20, 32, 10, 10), (0.1, 0.7)),
        ((50, 40, 8, 8), (0.1, 0.0)),
        ((40, 24, 16, 8), (0.0, 0.6)),
    ]
    raw = np.array([[*box, *scores] for box, scores in anchors], np.float32).T
    return raw[None]


def ssd_outputs() -> dict[str, np.ndarray]:
    """boxes [1, 3, 4] (ymin, xmin, ymax, xmax in 0..1), scores [1, 3], classes [1, 3]."""
    return {
        "boxes": np.array([[[0.1, 0.2, 0.5, 0.6], [0.12, 0.2, 0.5, 0.6], [0.6, 0.6, 0.9, 0.9]]]),
        "scores": np.array([[0.95, 0.9, 0.5]]),
        "classes": np.array([[1.0, 1.0, 0.0]]),
    }
