"""A user's own object detector over real HTTP: declared as task ``object-detection`` with
its output format and labels, uploaded by presigned POST, registered, then served as
objects after NMS; a detector declared wrongly is a 400 naming the field."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.detection_graphs import LABELS, SIZE, constant_graph, ssd_outputs, yolo_output
from tests.e2e.accounts import new_account
from tests.e2e.models import wait_for_status

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def owner(http: httpx.Client) -> dict[str, str]:
    account = new_account(http)
    key = http.post(
        "/v1/keys",
        json={"name": "owner", "scopes": ["predict", "models:read", "models:write"]},
        headers={"authorization": f"Bearer {account['token']}"},
    )
    assert key.status_code == 201, key.text
    return {"x-api-key": key.json()["key"]}


def png(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def register(http: httpx.Client, headers: dict, name: str, graph: bytes, **declared: Any) -> dict:
    body = {"name": name, "task": "object-detection", "labels": LABELS,
            "preprocessing": {"height": SIZE, "width": SIZE}, **declared}  # fmt: skip
    created = http.post("/v1/models", headers=headers, json=body)
    assert created.status_code == 201, created.text
    version = http.post(f"/v1/models/{name}/versions", headers=headers).json()
    form = version["upload"]
    httpx.post(form["url"], data=form["fields"], files={"file": ("model.onnx", graph)})
    return wait_for_status(http, headers, name, version["version"])


def test_a_yolo_export_answers_objects(http: httpx.Client, owner: dict[str, str]) -> None:
    ready = register(http, owner, "my-yolo", constant_graph({"output0": yolo_output()}),
                     detection={"format": "yolo"})  # fmt: skip
    assert ready["status"] == "READY", ready
    answer = http.post("/v1/models/my-yolo/predict", headers=owner, json={"inputs": [png(128, 64)]})
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert [(o["label"], o["box"]) for o in output["objects"]] == [
        ("cat", [30.0, 22.0, 50.0, 42.0]), ("dog", [30.0, 22.0, 50.0, 42.0]),
        ("dog", [64.0, 8.0, 96.0, 24.0]),
    ]  # fmt: skip
    described = http.get("/v1/models/my-yolo", headers=owner).json()
    assert described["task"] == "object-detection"
    assert described["detection"]["format"] == "yolo"


def test_an_ssd_detector_with_stretched_input(http: httpx.Client, owner: dict[str, str]) -> None:
    ready = register(
        http, owner, "my-ssd", constant_graph(ssd_outputs()),
        detection={"format": "ssd", "min_score": 0.6},
        preprocessing={"height": SIZE, "width": SIZE, "resize": "stretch"},
    )  # fmt: skip
    assert ready["status"] == "READY", ready
    answer = http.post("/v1/models/my-ssd/predict", headers=owner, json={"inputs": [png(100, 50)]})
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert output["objects"] == [{"box": [20.0, 5.0, 60.0, 25.0], "label": "dog",
                                  "score": pytest.approx(0.95)}]  # fmt: skip


def test_outputs_the_graph_lacks_are_a_503_naming_them(
    http: httpx.Client, owner: dict[str, str]
) -> None:
    ready = register(http, owner, "my-misdeclared", constant_graph({"output0": yolo_output()}),
                     detection={"format": "ssd"})  # fmt: skip
    assert ready["status"] == "READY", ready
    body = {"inputs": [png(8, 8)]}
    answer = http.post("/v1/models/my-misdeclared/predict", headers=owner, json=body)
    assert answer.status_code == 503, answer.text
    assert "no output named 'boxes'" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "no-spec", "task": "object-detection",
          "preprocessing": {"height": 8, "width": 8}}, "detection"),
        ({"name": "no-size", "task": "object-detection", "detection": {"format": "yolo"}},
         "preprocessing.height"),
        ({"name": "bad-format", "task": "object-detection", "detection": {"format": "rcnn"},
          "preprocessing": {"height": 8, "width": 8}}, "detection.format"),
        ({"name": "not-a-detector", "task": "tabular-classification",
          "detection": {"format": "yolo"}}, "detection"),
    ],
)  # fmt: skip
def test_a_wrong_declaration_is_a_400(
    http: httpx.Client, owner: dict[str, str], body: dict, param: str
) -> None:
    answer = http.post("/v1/models", headers=owner, json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param
