"""No response carries a non-finite number: the runtime refuses NaN or infinite outputs,
naming the output, and a batch job's other rows still score."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from aiaas_runtime import Model, RunError, SessionRunner
from aiaas_runtime.manifest import parse_manifest
from aiaas_runtime.session import open_session
from aiaas_runtime.tasks import processor_for


def log_model(tmp_path: Path) -> Model:
    """``y = log(x)`` on ``x [batch, 1]``: NaN for a negative x."""
    graph = helper.make_graph(
        [helper.make_node("Log", ["x"], ["y"])],
        "log",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "log.onnx"
    onnx.save(model, path)
    manifest = parse_manifest(
        {
            "name": "log", "version": "1", "task": "custom",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 1]}],
            "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 1]}],
            "artifacts": {"fp32": {"file": "log.onnx", "sha256": "", "size": 0}},
        },
        tmp_path,
    )  # fmt: skip
    runner = SessionRunner(open_session(path, prefer_gpu=False))
    return Model(manifest, runner, processor_for(manifest), "fp32")


def test_a_nan_output_is_an_error_naming_it(tmp_path: Path) -> None:
    model = log_model(tmp_path)
    assert model.predict([[1.0]]).results == [{"y": [0.0]}]
    with pytest.raises(RunError, match="output 'y' of log is not finite"):
        model.predict([[1.0], [-1.0]])


def test_in_a_batch_job_only_the_row_at_fault_fails(tmp_path: Path) -> None:
    rows = log_model(tmp_path).predict_rows([[1.0], [-1.0], [1.0]])
    assert rows[0] == {"y": [0.0]} and rows[2] == {"y": [0.0]}
    assert isinstance(rows[1], RunError)
