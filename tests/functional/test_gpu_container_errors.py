"""The GPU container's errors: JSON ``{"error": ...}`` with a 4xx or 503, never a stack trace.

Fixtures: ``tests/gpu.py``.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from aiaas.errors import InvalidInput, NotFound, Unavailable
from aiaas.gpu.server import create_gpu_app
from aiaas.gpu.setup import build_models
from aiaas.protocols import BINARY_JSON
from aiaas.serving.gpu_client import HttpGpuBackend, encode_invocation, target_parameters
from tests.gpu import Container, Deployed, iris_rows, json_request, settings_for


def error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    return str(body["error"])


def test_a_body_that_is_not_json_is_400(gpu_http: httpx.Client) -> None:
    response = gpu_http.post("/invocations", content=b"\x00\x01 not json")
    assert response.status_code == 400
    assert error_of(response).startswith("request body is not valid JSON: ")


def test_a_request_without_parameters_is_400(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed]
) -> None:
    doc = json.loads(json_request(gpu_deployed["iris-rf"].target, iris_rows(1)))
    del doc["parameters"]
    response = gpu_http.post("/invocations", content=json.dumps(doc).encode())
    assert response.status_code == 400
    assert error_of(response) == "parameters.model must name the model"


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"artifact": "s3://elsewhere/model.onnx"}, 400, "artifact must be in the weights bucket"),
        ({"sha256": "../../tmp/x"}, 400, "sha256 must be 64 lowercase hex digits"),
        ({"artifact": "missing"}, 404, "the weights of 'iris-rf' version 1 are not in the"),
        ({"sha256": "0" * 64}, 503, "model weights do not match the catalog's sha256"),
        ({"outputs": ["nope"]}, 400, "the artifact has no output 'nope'"),
    ],
)  # fmt: skip
def test_a_bad_target_is_refused_with_a_json_error(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed], change: dict[str, Any], status: int,
    message: str, gpu_container: Container,
) -> None:  # fmt: skip
    target = gpu_deployed["iris-rf"].target
    if change.get("artifact") == "missing":
        change = {"artifact": f"s3://{gpu_container.bucket}/models/gone.onnx", "sha256": "1" * 64}
    parameters = {**target_parameters(target), **change}
    body = json_request(target, iris_rows(1)).replace(
        json.dumps(target_parameters(target)).encode(), json.dumps(parameters).encode()
    )
    response = gpu_http.post("/invocations", content=body)
    assert response.status_code == status
    assert message in error_of(response)


@pytest.mark.parametrize(
    ("feeds", "message"),
    [
        ({"float_input": np.ones((2, 5), np.float32)}, "shape [2, 5] does not fit the model's"),
        ({"float_input": np.ones((2, 4), np.float64)}, "datatype FP64 does not match the model's"),
        ({"x": np.ones((2, 4), np.float32)}, "unknown input 'x'; the model takes: float_input"),
    ],
)  # fmt: skip
def test_tensors_that_do_not_fit_the_model_are_400(
    gpu_http: httpx.Client,
    gpu_deployed: dict[str, Deployed],
    feeds: dict[str, np.ndarray],
    message: str,
) -> None:
    body, content_type = encode_invocation(gpu_deployed["iris-rf"].target, feeds)
    response = gpu_http.post("/invocations", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400
    assert message in error_of(response)


def test_a_bad_header_size_is_400(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed]
) -> None:
    body, _ = encode_invocation(gpu_deployed["iris-rf"].target, iris_rows(1))
    response = gpu_http.post(
        "/invocations", content=body,
        headers={"Content-Type": f"{BINARY_JSON};json-header-size={len(body) + 10}"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "outside the" in error_of(response)


def test_a_body_over_the_limit_is_413(gpu_http: httpx.Client) -> None:
    response = gpu_http.post("/invocations", content=b"0" * (6 * 1024 * 1024 + 1))
    assert response.status_code == 413
    assert "limit is 6291456" in error_of(response)


def test_unknown_paths_answer_json(gpu_http: httpx.Client) -> None:
    response = gpu_http.get("/v2/models")
    assert response.status_code == 404
    assert error_of(response) == "Not Found"


def test_a_full_queue_is_503_with_retry_after(
    gpu_container: Container, gpu_deployed: dict[str, Deployed], tmp_path: Path
) -> None:
    # Given a container whose iris batcher may queue one request, held busy
    settings = settings_for(gpu_container.bucket, tmp_path, gpu_max_queue=1)
    models = build_models(settings, s3_client=gpu_container.s3)
    loaded = models.get(gpu_deployed["iris-rf"].target)
    release = threading.Event()
    real_run = loaded.batcher._run
    loaded.batcher._run = lambda feeds: (release.wait(5), real_run(feeds))[1]  # type: ignore[assignment]
    loaded.batcher.submit(iris_rows(1))
    while loaded.batcher.stats().queued:
        time.sleep(0.001)
    loaded.batcher.submit(iris_rows(1))

    with TestClient(create_gpu_app(settings, models)) as client:
        body, content_type = encode_invocation(gpu_deployed["iris-rf"].target, iris_rows(1))
        response = client.post("/invocations", content=body, headers={"Content-Type": content_type})
        release.set()

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "the model is busy: 1 requests are already waiting" in response.json()["error"]


def test_the_http_backend_maps_the_containers_errors(
    gpu_container: Container, gpu_deployed: dict[str, Deployed]
) -> None:
    backend = HttpGpuBackend(gpu_container.url, timeout_s=30)
    iris = gpu_deployed["iris-rf"].target
    gone = replace(iris, artifact=f"s3://{gpu_container.bucket}/models/gone.onnx", sha256="2" * 64)

    with pytest.raises(InvalidInput, match=r"shape \[1, 5\] does not fit"):
        backend.infer(iris, {"float_input": np.ones((1, 5), np.float32)})
    with pytest.raises(NotFound, match="are not in the weights bucket"):
        backend.infer(gone, iris_rows(1))
    with pytest.raises(Unavailable, match="do not match the catalog's sha256"):
        backend.infer(replace(iris, sha256="0" * 64), iris_rows(1))
    with pytest.raises(Unavailable, match="GPU backend unreachable"):
        HttpGpuBackend("http://127.0.0.1:9", timeout_s=2).infer(iris, iris_rows(1))
