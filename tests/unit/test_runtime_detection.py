"""Object detection for uploaded detectors, on real onnxruntime sessions of synthetic graphs
whose outputs we construct: YOLO (ultralytics' layout) and SSD decoding, per-class NMS,
min_score, letterbox and stretch mapped back onto the image as sent."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from aiaas_runtime import Model, PredictParams, SessionRunner
from aiaas_runtime.errors import InvalidInputError, ModelLoadError
from aiaas_runtime.manifest import parse_manifest
from aiaas_runtime.tasks import processor_for
from aiaas_runtime.tasks.detect import nms
from tests.detection_graphs import LABELS, SIZE, constant_graph, ssd_outputs, yolo_output


def detector(outputs: dict[str, np.ndarray], detection: dict[str, Any], **pre: Any) -> Model:
    graph = constant_graph(outputs)
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    raw = {
        "name": "detector", "version": "1", "task": "object-detection",
        "inputs": [{"name": "images", "datatype": "FP32", "shape": [1, 3, SIZE, SIZE]}],
        "outputs": [{"name": n, "datatype": "FP32", "shape": list(v.shape)}
                    for n, v in outputs.items()],
        "labels": LABELS, "preprocessing": {"height": SIZE, "width": SIZE, **pre},
        "postprocessing": {"detection": detection},
        "limits": {"max_batch_size": 1, "max_items": 8}, "artifacts": {},
    }  # fmt: skip
    manifest = parse_manifest(raw, Path())
    return Model(manifest, SessionRunner(session), processor_for(manifest), "fp32")


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_yolo_boxes_are_decoded_suppressed_per_class_and_unletterboxed() -> None:
    model = detector({"output0": yolo_output()}, {"format": "yolo"})
    # 128 x 64 letterboxed into 64 x 64: scale 0.5, 16 px bars above and below
    (result,) = model.predict([png(128, 64)]).results
    assert result == {
        "objects": [
            {"box": [30.0, 22.0, 50.0, 42.0], "label": "cat", "score": pytest.approx(0.9)},
            {"box": [30.0, 22.0, 50.0, 42.0], "label": "dog", "score": pytest.approx(0.7)},
            {"box": [64.0, 8.0, 96.0, 24.0], "label": "dog", "score": pytest.approx(0.6)},
        ]
    }
    strict = model.predict([png(128, 64)], PredictParams(min_score=0.65, max_objects=1))
    assert [o["label"] for o in strict.results[0]["objects"]] == ["cat"]


def test_ssd_boxes_in_yxyx_fractions_are_stretched_back() -> None:
    model = detector(ssd_outputs(), {"format": "ssd"})
    (result,) = model.predict([png(100, 50)]).results  # stretched: x * 100, y * 50
    assert result["objects"] == [
        {"box": [20.0, 5.0, 60.0, 25.0], "label": "dog", "score": pytest.approx(0.95)},
        {"box": [60.0, 30.0, 90.0, 45.0], "label": "cat", "score": pytest.approx(0.5)},
    ]


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]], np.float32)
    assert nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.45) == [1, 2]
    assert nms(boxes, np.array([0.5, 0.9, 0.4], np.float32), 0.95) == [1, 0, 2]


def test_a_missing_output_or_format_fails_to_load_saying_which() -> None:
    with pytest.raises(ModelLoadError, match="no output named 'boxes'"):
        detector({"output0": yolo_output()}, {"format": "ssd"})
    with pytest.raises(ModelLoadError, match=r"detection\.format yolo or ssd"):
        detector({"output0": yolo_output()}, {})


def test_bad_inputs_and_parameters_are_refused() -> None:
    model = detector({"output0": yolo_output()}, {"format": "yolo"})
    with pytest.raises(InvalidInputError, match="must be a base64"):
        model.predict([[[1, 2, 3]]])
    with pytest.raises(InvalidInputError, match="max_objects"):
        model.predict([png(8, 8)], PredictParams(max_objects=0))
