"""Models registered through the public API, for the e2e tests: a fresh scikit-learn pipeline
uploaded by presigned POST, and waiting for its registration to end."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def breast_cancer_onnx(c: float = 1.0) -> bytes:
    """What a user would upload: a fresh scikit-learn pipeline, exported with skl2onnx."""
    x, y = load_breast_cancer(return_X_y=True)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500)).fit(x, y)
    model = to_onnx(
        pipeline,
        x[:1].astype("float32"),
        options={"zipmap": False},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return model.SerializeToString()


def wait_for_status(client: httpx.Client, headers: dict, name: str, version: int) -> dict:
    """Poll the version until registration ends (the S3 event is asynchronous)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(
            f"/v1/models/{name}/versions/{version}", headers=headers
        ).json()
        if body["status"] in ("READY", "FAILED"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{name} v{version} still {body['status']} after 60 s")


def register(client: httpx.Client, headers: dict, name: str, data: bytes) -> dict:
    """Create a model, upload a version by presigned POST, wait until registration ends."""
    assert (
        client.post(
            "/v1/models", headers=headers, json={"name": name, "task": "tabular-classification"}
        ).status_code
        == 201
    )
    version = client.post(f"/v1/models/{name}/versions", headers=headers).json()
    form = version["upload"]
    httpx.post(form["url"], data=form["fields"], files={"file": ("model.onnx", data)})
    return wait_for_status(client, headers, name, version["version"])


def assert_refused(
    client: httpx.Client, headers: dict, name: str, body: dict[str, Any], words: str
) -> None:
    """``POST /v1/models/{name}/predict`` answers 400, its JSON body naming ``words``."""
    answer = client.post(f"/v1/models/{name}/predict", json=body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert words in json.dumps(answer.json())
