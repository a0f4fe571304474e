"""OCR over real HTTP on the local stack (served from the weights bucket, three graphs): the
native route reads the rendered lines as the reference does, the Open Inference Protocol runs
the detection graph on raw tensors with tritonclient, a batch job keeps every line (a broken
image among them), and bad requests are 400s."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton

from tests.conftest import load_testdata
from tests.e2e.batch_jobs import batch_headers, output, wait_for_job
from tests.e2e.models import assert_refused

pytestmark = pytest.mark.e2e
MODEL = "ocr"


def samples() -> list[dict[str, Any]]:
    return list(load_testdata("ocr_samples")["images"])


def test_native_reads_the_lines(http: httpx.Client, key: dict[str, str]) -> None:
    images = [s for s in samples() if "turned-180" in s["name"]][:1] + samples()[:1]
    answer = http.post(
        f"/v1/models/{MODEL}/predict",
        json={"inputs": [s["png_base64"] for s in images]},
        headers=key,
    )
    assert answer.status_code == 200, answer.text
    for out, sample in zip(answer.json()["outputs"], images, strict=True):
        assert [line["text"] for line in out["lines"]] == [r["text"] for r in sample["reference"]]
        assert out["text"] == "\n".join(r["text"] for r in sample["reference"])
        assert all(len(line["box"]) == 4 for line in out["lines"])
    listed = http.get(f"/v1/models/{MODEL}", headers=key).json()
    assert listed["task"] == "ocr" and listed["owned_by"] == "aiaas"


def test_oip_runs_the_detection_graph_on_raw_tensors(local_stack: str, key: dict[str, str]) -> None:
    client = triton.InferenceServerClient(local_stack.removeprefix("http://"))
    tensor = triton.InferInput("x", [1, 3, 64, 96], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 3, 64, 96), np.float32))
    result = client.infer(MODEL, [tensor], headers=dict(key))
    (name,) = {o["name"] for o in result.get_response()["outputs"]}
    probabilities = result.as_numpy(name)
    assert probabilities.shape == (1, 1, 64, 96) and float(probabilities.max()) < 0.3


def test_a_batch_job_keeps_every_line(http: httpx.Client, account: dict[str, Any]) -> None:
    headers = batch_headers(http, account["token"])
    created = http.post(
        "/v1/batch-jobs", json={"model": MODEL, "input_format": "jsonl"}, headers=headers
    )
    assert created.status_code == 201, created.text
    images = samples()
    photo = next(s for s in images if s["name"] == "text-06")  # read exactly as the reference
    lines = [{"id": 1, "input": photo["png_base64"]}, {"id": 2, "input": "bm90IGFuIGltYWdl"}]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    upload = created.json()["upload"]
    sent = httpx.post(upload["url"], data=upload["fields"], files={"file": ("in", data)})
    assert sent.status_code in (200, 204), sent.text
    job = wait_for_job(http, headers, created.json()["id"])
    rows = {row["id"]: row for row in output(job)}
    assert job["status"] == "PARTIALLY_FAILED" and set(rows) == {1, 2}
    want = [r["text"] for r in photo["reference"]]
    assert [line["text"] for line in rows[1]["output"]["lines"]] == want
    assert "not a decodable" in rows[2]["error"]["message"]


@pytest.mark.parametrize(
    ("inputs", "parameters", "words"),
    [
        (["iVBORw0KGgo="], {}, "not a decodable"),
        ([[[1, 2, 3]]], {}, "must be a base64"),
        (["x"], {"min_score": 2}, "min_score"),
        (["x"] * 5, {}, "at most 4"),
    ],
)
def test_bad_requests_are_400s_naming_the_problem(
    http: httpx.Client, key: dict[str, str], inputs: list[Any], parameters: dict, words: str
) -> None:
    assert_refused(http, key, MODEL, {"inputs": inputs, "parameters": parameters}, words)
