"""The GPU container over real HTTP on loopback, on the CPU, with its weights in moto's S3.

SageMaker's bring-your-own-container contract: ``GET /ping`` and ``POST /invocations``
(Open Inference Protocol bodies, JSON or binary) for the three task types of the model zoo,
concurrent requests batched, and the ``serve`` entry point. Fixtures: ``tests/gpu.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from aiaas.gpu.models import GpuModels
from aiaas.protocols import BINARY_JSON
from aiaas.serving.gpu_client import HttpGpuBackend, decode_invocation, encode_invocation
from tests.conftest import ROOT
from tests.gpu import NAMES, Container, Deployed, digits, iris_rows, json_request, tokens


def test_ping_answers_without_loading_anything(gpu_http: httpx.Client) -> None:
    response = gpu_http.get("/ping")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy"}


def test_tabular_json_in_json_out(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed]
) -> None:
    iris = gpu_deployed["iris-rf"]
    feeds = iris_rows(3)
    response = gpu_http.post(
        "/invocations", content=json_request(iris.target, feeds, id="r-1"),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    doc = response.json()
    assert (doc["model_name"], doc["model_version"], doc["id"]) == ("iris-rf", "1", "r-1")
    assert doc["parameters"] == {"variant": "fp32", "provider": "CPUExecutionProvider"}
    outputs = {o["name"]: o for o in doc["outputs"]}
    expected = iris.expected(feeds)
    assert outputs["label"]["datatype"] == "INT64"
    assert outputs["label"]["data"] == expected["label"].tolist()
    assert outputs["probabilities"]["shape"] == [3, 3]
    np.testing.assert_allclose(
        outputs["probabilities"]["data"], expected["probabilities"].ravel(), rtol=1e-6
    )


@pytest.mark.parametrize("name", NAMES)
def test_binary_in_binary_out_for_each_task(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed], name: str
) -> None:
    model = gpu_deployed[name]
    feeds = {"iris-rf": iris_rows(4), "digits-cnn": digits(2), "all-minilm-l6-v2": tokens(2, 9)}[
        name
    ]
    body, content_type = encode_invocation(model.target, feeds)

    response = gpu_http.post("/invocations", content=body, headers={"Content-Type": content_type})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(f"{BINARY_JSON};json-header-size=")
    assert response.headers["x-aiaas-variant"] == "fp32"
    outputs = decode_invocation(response.content, response.headers["content-type"])
    for output, value in model.expected(feeds).items():
        assert outputs[output].dtype == value.dtype
        np.testing.assert_allclose(outputs[output], value, rtol=1e-5, atol=1e-6)


def test_the_embedding_graph_takes_json_int64_tokens(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed]
) -> None:
    minilm = gpu_deployed["all-minilm-l6-v2"]
    feeds = tokens(1, 6, seed=3)
    response = gpu_http.post("/invocations", content=json_request(minilm.target, feeds))
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["shape"] == [1, 384]
    expected = minilm.expected(feeds)["sentence_embedding"]
    np.testing.assert_allclose(output["data"], expected.ravel(), rtol=1e-5, atol=1e-6)
    assert abs(float(np.linalg.norm(output["data"])) - 1) < 1e-4


def test_the_http_backend_round_trips(
    gpu_container: Container, gpu_deployed: dict[str, Deployed]
) -> None:
    digits_model = gpu_deployed["digits-cnn"]
    feeds = digits(3, seed=5)
    outputs = HttpGpuBackend(gpu_container.url, timeout_s=30).infer(digits_model.target, feeds)
    np.testing.assert_allclose(
        outputs["logits"], digits_model.expected(feeds)["logits"], rtol=1e-5, atol=1e-6
    )


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(
    gpu_container: Container, gpu_deployed: dict[str, Deployed]
) -> None:
    # Given 32 clients sending distinct images of 1-3 rows at the same moment
    model = gpu_deployed["digits-cnn"]
    backend = HttpGpuBackend(gpu_container.url, timeout_s=30)
    requests = [digits(1 + i % 3, seed=100 + i) for i in range(32)]
    before = _batcher(gpu_container.models, "digits-cnn")
    results: dict[int, dict[str, np.ndarray]] = {}
    barrier = threading.Barrier(32)

    def client(index: int) -> None:
        barrier.wait()
        results[index] = backend.infer(model.target, requests[index])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    # Then each answer is its own input's logits, and requests shared runs
    for index, feeds in enumerate(requests):
        np.testing.assert_allclose(
            results[index]["logits"], model.expected(feeds)["logits"], rtol=1e-5, atol=1e-5
        )
    after = _batcher(gpu_container.models, "digits-cnn")
    runs = after["runs"] - before.get("runs", 0)
    assert after["requests"] - before.get("requests", 0) == 32
    assert after["merged_runs"] > before.get("merged_runs", 0)
    assert runs < 32


def _batcher(models: GpuModels, name: str) -> dict[str, Any]:
    for loaded in models.stats():
        if loaded["model"] == name:
            return dict(loaded["batcher"])
    return {}


def test_stats_show_each_loaded_model(
    gpu_http: httpx.Client, gpu_deployed: dict[str, Deployed]
) -> None:
    body, content_type = encode_invocation(gpu_deployed["iris-rf"].target, iris_rows(1))
    gpu_http.post("/invocations", content=body, headers={"Content-Type": content_type})
    stats = gpu_http.get("/stats").json()["models"]
    iris = next(m for m in stats if m["model"] == "iris-rf")
    assert iris["variant"] == "fp32" and iris["fp16"] == "not tried: no GPU"
    assert iris["batcher"]["requests"] >= 1


def test_the_serve_entry_point_starts_and_serves(
    moto_endpoint: str, gpu_container: Container, gpu_deployed: dict[str, Deployed], tmp_path: Path
) -> None:
    # Given `serve` started as the local stack starts it: a process with the env it needs
    env = {
        **os.environ,
        "AIAAS_WEIGHTS_BUCKET": gpu_container.bucket,
        "AIAAS_WEIGHTS_CACHE_DIR": str(tmp_path),
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    serve = ROOT / "functions" / "predict_gpu" / "serve"
    process = subprocess.Popen(
        [sys.executable, str(serve), "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url, started = _listening(process)
        # Then it answers /ping and runs a model from moto's S3
        assert httpx.get(f"{url}/ping", trust_env=False).status_code == 200
        feeds = iris_rows(2, seed=9)
        outputs = HttpGpuBackend(url).infer(gpu_deployed["iris-rf"].target, feeds)
        np.testing.assert_array_equal(
            outputs["label"], gpu_deployed["iris-rf"].expected(feeds)["label"]
        )
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "no GPU found" in started  # one line, at start
    assert "Application shutdown complete" in output  # SIGTERM stops it gracefully


def _listening(process: subprocess.Popen[str]) -> tuple[str, str]:
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("aiaas-gpu listening on "):
            return line.split()[-1], "".join(lines)
    raise AssertionError("serve did not start:\n" + "".join(lines))
