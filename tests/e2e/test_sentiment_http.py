"""The sentiment built-in over real HTTP on the local stack (served from the weights bucket,
as the template's LayerModels leaves it out): native, the Open Inference Protocol with
tritonclient, a batch job with explanations, the explain route, and the 400s of bad text."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.conftest import load_testdata
from tests.e2e.batch_jobs import batch_headers, output, wait_for_job

pytestmark = pytest.mark.e2e
MODEL = "sentiment"


def test_native_predict_labels_the_samples(http: httpx.Client, key: dict[str, str]) -> None:
    samples = load_testdata("sentiment_samples")["samples"]
    body = {"inputs": [s["text"] for s in samples], "parameters": {"top_k": 1}}
    answer = http.post(f"/v1/models/{MODEL}/predict", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    outputs = answer.json()["outputs"]
    assert [o["label"] for o in outputs] == [s["expected"] for s in samples]
    assert all(len(o["top_k"]) == 1 and len(o["probabilities"]) == 3 for o in outputs)
    listed = http.get(f"/v1/models/{MODEL}", headers=key).json()
    assert listed["task"] == "text-classification"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_oip_takes_texts_and_returns_the_graphs_probabilities(
    local_stack: str, key: dict[str, str], binary: bool
) -> None:
    client = triton.InferenceServerClient(local_stack.removeprefix("http://"))
    texts = np.array([b"I love it, best purchase ever", "糟糕".encode()], dtype=np.object_)
    tensor = triton.InferInput("text", [2], "BYTES")
    tensor.set_data_from_numpy(texts, binary_data=binary)
    wanted = [triton.InferRequestedOutput("probabilities", binary_data=binary)]
    result = client.infer(MODEL, [tensor], outputs=wanted, headers=dict(key))  # it adds to it
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert probabilities[0].argmax() == 2  # positive


def test_explain_names_the_word_that_decided(http: httpx.Client, key: dict[str, str]) -> None:
    body = {"inputs": ["The service was terrible."]}
    answer = http.post(f"/v1/models/{MODEL}/explain", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    (explained,) = answer.json()["explanations"]
    assert explained["label"] == "negative"
    assert max(explained["tokens"], key=lambda t: t["attribution"])["text"] == "terrible"


def test_a_batch_job_scores_and_explains_every_line(
    http: httpx.Client, account: dict[str, Any]
) -> None:
    headers = batch_headers(http, account["token"])
    created = http.post(
        "/v1/batch-jobs",
        json={"model": MODEL, "input_format": "jsonl", "explain": True},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    lines = [{"id": 1, "input": "I adore this little cafe."}, {"id": 2, "input": ""},
             {"id": 3, "input": "The train was late again, awful."}]  # fmt: skip
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    upload = created.json()["upload"]
    sent = httpx.post(upload["url"], data=upload["fields"], files={"file": ("in", data)})
    assert sent.status_code in (200, 204), sent.text
    job = wait_for_job(http, headers, created.json()["id"])
    assert job["status"] == "PARTIALLY_FAILED", job
    rows = {row["id"]: row for row in output(job)}
    assert rows[1]["output"]["label"] == "positive" and rows[3]["output"]["label"] == "negative"
    assert "is empty" in rows[2]["error"]["message"]
    assert rows[3]["output"]["explanation"]["tokens"]


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ([""], "is empty"),
        (["  "], "is empty"),
        (["a" * 5001], "the limit is 5000"),
        ([17], "must be a string"),
        ([], "at least 1 item"),
    ],
)
def test_bad_text_is_a_400_naming_it(
    http: httpx.Client, key: dict[str, str], inputs: list[Any], words: str
) -> None:
    answer = http.post(f"/v1/models/{MODEL}/predict", json={"inputs": inputs}, headers=key)
    assert answer.status_code == 400, answer.text
    assert words in json.dumps(answer.json())
