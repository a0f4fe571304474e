"""Models with runtime ``gpu`` end to end: registered over HTTP, then served through the
forwarded path (PredictFunction and BatchFunction -> the GPU container app, a local process
on CPU here) on the native, Open Inference Protocol and OpenAI routes, and in a batch job.

The expected numbers come from onnxruntime on this machine, run directly on the same graph.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest
from openai import BadRequestError, NotFoundError, OpenAI

from aiaas_dev.stack import LocalStack
from tests.e2e.accounts import new_account
from tests.e2e.batch_jobs import batch_headers, jsonl, output, submit, wait_for_job
from tests.e2e.inprocess import in_process_stack
from tests.unit import catalog_models as cm

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MODEL = "tiny-embedder"
TOKENS = [[101, 7592, 2088, 102], [101, 2307, 102], [101, 1, 2, 3, 4, 5, 6, 102]]


@pytest.fixture(scope="module")
def stack(models_dir: Path) -> Iterator[LocalStack]:
    with in_process_stack(models_dir, gpu_app=True) as running:
        yield running


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=60) as client:
        yield client


def expected(tokens: list[list[int]]) -> np.ndarray:
    """onnxruntime on CPU, each input alone (no padding)."""
    session = ort.InferenceSession(cm.to_bytes(cm.token_embedder()))
    rows = []
    for item in tokens:
        ids = np.array([item], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        rows.append(session.run(None, feeds)[0][0])
    return np.stack(rows)


@pytest.fixture(scope="module")
def owner(http: httpx.Client) -> dict[str, Any]:
    """An account that registered the model with runtime gpu."""
    account = new_account(http)
    headers = {"x-api-key": account["key"]}
    created = http.post(
        "/v1/models",
        headers=headers,
        json={"name": MODEL, "task": "embedding", "runtime": "gpu"},
    )
    assert created.status_code == 201, created.text
    version = http.post(f"/v1/models/{MODEL}/versions", headers=headers).json()
    form = version["upload"]
    data = cm.to_bytes(cm.token_embedder())
    sent = httpx.post(form["url"], data=form["fields"], files={"file": ("model.onnx", data)})
    assert sent.status_code in (200, 204), sent.text
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state = http.get(f"/v1/models/{MODEL}/versions/1", headers=headers).json()
        if state["status"] in ("READY", "FAILED"):
            break
        time.sleep(0.2)
    assert state["status"] == "READY", state
    return {**account, "headers": headers}


def gpu_runs(stack: LocalStack) -> int:
    """Rows the GPU container app has run, over all its models."""
    assert stack.gpu_app is not None
    stats = httpx.get(f"{stack.gpu_app.url}/stats", timeout=10).json()
    return sum(int(model["batcher"]["rows"]) for model in stats["models"])


def test_native_route_forwards_to_the_gpu_app(
    stack: LocalStack, http: httpx.Client, owner: dict[str, Any]
) -> None:
    before = gpu_runs(stack)
    answer = http.post(
        f"/v1/models/{MODEL}/predict", json={"inputs": TOKENS}, headers=owner["headers"]
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-model-variant"] == "gpu"
    got = np.array([row["embedding"] for row in answer.json()["outputs"]])
    np.testing.assert_allclose(got, expected(TOKENS), atol=1e-5)
    assert gpu_runs(stack) == before + len(TOKENS)


def test_open_inference_protocol_forwards_to_the_gpu_app(
    stack: LocalStack, http: httpx.Client, owner: dict[str, Any]
) -> None:
    ids = TOKENS[0]
    body = {
        "inputs": [
            {"name": "input_ids", "datatype": "INT64", "shape": [1, len(ids)], "data": ids},
            {
                "name": "attention_mask",
                "datatype": "INT64",
                "shape": [1, len(ids)],
                "data": [1] * len(ids),
            },
        ]
    }
    before = gpu_runs(stack)
    answer = http.post(f"/v2/models/{MODEL}/versions/1/infer", json=body, headers=owner["headers"])
    assert answer.status_code == 200, answer.text
    (output,) = answer.json()["outputs"]
    assert output["name"] == "sentence_embedding" and output["shape"] == [1, 32]
    np.testing.assert_allclose(output["data"], expected([ids])[0], atol=1e-5)
    assert gpu_runs(stack) == before + 1
    wrong = dict(body, inputs=[dict(body["inputs"][0], datatype="FP32")])
    refused = http.post(f"/v2/models/{MODEL}/infer", json=wrong, headers=owner["headers"])
    assert refused.status_code == 400 and "error" in refused.json()


def test_openai_embeddings_forward_token_arrays_to_the_gpu_app(
    stack: LocalStack, owner: dict[str, Any]
) -> None:
    client = OpenAI(base_url=f"{stack.base_url}/v1", api_key=owner["key"], max_retries=0)
    floats = client.embeddings.create(model=MODEL, input=TOKENS, encoding_format="float")
    got = np.array([item.embedding for item in floats.data])
    np.testing.assert_allclose(got, expected(TOKENS), atol=1e-5)
    assert floats.usage.prompt_tokens == sum(len(t) for t in TOKENS)
    default = client.embeddings.create(model=MODEL, input=TOKENS[1])  # base64
    np.testing.assert_allclose(default.data[0].embedding, got[1], atol=1e-6)
    short = client.embeddings.create(model=MODEL, input=TOKENS[1], dimensions=8)
    assert len(short.data[0].embedding) == 8
    assert abs(np.linalg.norm(short.data[0].embedding) - 1) < 1e-5
    with pytest.raises(BadRequestError, match="tokenizer"):
        client.embeddings.create(model=MODEL, input="text needs a tokenizer")


def test_batch_job_forwards_to_the_gpu_app(
    stack: LocalStack, http: httpx.Client, owner: dict[str, Any]
) -> None:
    headers = batch_headers(http, owner["token"])
    lines = [{"id": i, "input": TOKENS[i % 3]} for i in range(90)] + [{"id": 90, "input": "x"}]
    before = gpu_runs(stack)
    job = submit(http, headers, MODEL, jsonl(lines))
    state = wait_for_job(http, headers, job["id"], timeout_s=60)
    assert state["status"] == "PARTIALLY_FAILED", state
    rows = output(state)
    assert [row["id"] for row in rows] == list(range(91))
    want = expected(TOKENS)
    got = np.array([row["output"]["embedding"] for row in rows[:90]])
    np.testing.assert_allclose(got, want[[i % 3 for i in range(90)]], atol=1e-5)
    assert "token ids" in rows[90]["error"]["message"]
    assert gpu_runs(stack) >= before + 90


def test_another_tenant_cannot_reach_the_gpu_model(http: httpx.Client, owner: dict) -> None:
    other = {"x-api-key": new_account(http)["key"]}
    answer = http.post(f"/v1/models/{MODEL}/predict", json={"inputs": TOKENS}, headers=other)
    assert answer.status_code == 404


def test_an_unknown_model_is_404_on_openai(stack: LocalStack, owner: dict[str, Any]) -> None:
    client = OpenAI(base_url=f"{stack.base_url}/v1", api_key=owner["key"], max_retries=0)
    with pytest.raises(NotFoundError):
        client.embeddings.create(model="no-such-model", input=[[1, 2]])
