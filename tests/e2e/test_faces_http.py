"""The face detector over real HTTP on the local stack (served from the weights bucket):
native with its parameters, the Open Inference Protocol's raw tensors with tritonclient, a
batch job whose lines are images (one of them broken), a saliency grid, and bad images."""

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
MODEL = "face-detector"


def samples() -> list[dict[str, Any]]:
    return list(load_testdata("face_samples")["images"])


def test_native_finds_the_reference_faces(http: httpx.Client, key: dict[str, str]) -> None:
    images = samples()[:4]  # astronaut, camera: one face each; coffee, rocket: none
    body = {"inputs": [s["jpeg_base64"] for s in images]}
    answer = http.post(f"/v1/models/{MODEL}/predict", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    outputs = answer.json()["outputs"]
    assert [len(o["faces"]) for o in outputs] == [len(s["reference"]) for s in images]
    for out, sample in zip(outputs, images, strict=True):
        for got, want in zip(out["faces"], sample["reference"], strict=True):
            assert np.allclose(got["box"], want["box"], atol=0.5)
    strict = {"inputs": body["inputs"][:1], "parameters": {"min_score": 0.99, "max_faces": 1}}
    answer = http.post(f"/v1/models/{MODEL}/predict", json=strict, headers=key)
    assert answer.status_code == 200 and answer.json()["outputs"] == [{"faces": []}]


def test_oip_runs_the_graph_on_raw_tensors(local_stack: str, key: dict[str, str]) -> None:
    client = triton.InferenceServerClient(local_stack.removeprefix("http://"))
    tensor = triton.InferInput("input", [1, 3, 128, 128], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 3, 128, 128), np.float32))
    result = client.infer(MODEL, [tensor], headers=dict(key))
    names = {o["name"] for o in result.get_response()["outputs"]}
    assert len(names) == 2
    arrays = [result.as_numpy(n) for n in names]
    assert sorted(a.shape for a in arrays) == [(1, 896, 1), (1, 896, 16)]


def test_a_batch_job_keeps_every_line(http: httpx.Client, account: dict[str, Any]) -> None:
    headers = batch_headers(http, account["token"])
    created = http.post(
        "/v1/batch-jobs",
        json={"model": MODEL, "input_format": "jsonl", "explain": True},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    images = samples()
    lines = [{"id": 1, "input": images[0]["jpeg_base64"]}, {"id": 2, "input": "bm90IGFuIGltYWdl"},
             {"id": 3, "input": images[2]["jpeg_base64"]}]  # fmt: skip
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    upload = created.json()["upload"]
    sent = httpx.post(upload["url"], data=upload["fields"], files={"file": ("in", data)})
    assert sent.status_code in (200, 204), sent.text
    job = wait_for_job(http, headers, created.json()["id"])
    rows = {row["id"]: row for row in output(job)}
    assert job["status"] == "PARTIALLY_FAILED" and set(rows) == {1, 2, 3}
    assert len(rows[1]["output"]["faces"]) == 1 and rows[3]["output"]["faces"] == []
    assert len(rows[1]["output"]["explanation"]["grid"]) == 8
    assert "not a decodable" in rows[2]["error"]["message"]


def test_explain_gives_a_face_saliency_grid_as_png(http: httpx.Client, key: dict[str, str]) -> None:
    body = {"inputs": [samples()[0]["jpeg_base64"]], "parameters": {"format": "png", "grid": 4}}
    answer = http.post(f"/v1/models/{MODEL}/explain", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    (grid,) = answer.json()["explanations"]
    assert len(grid["grid"]) == 4 and grid["cell_size"] == [32, 32] and grid["heatmap_png"]


@pytest.mark.parametrize(
    ("inputs", "parameters", "words"),
    [
        (["iVBORw0KGgo="], {}, "not a decodable"),
        ([[[1, 2, 3]]], {}, "must be a base64"),
        (["x"], {"min_score": 0}, "min_score"),
        (["x"], {"max_faces": 0}, "max_faces"),
        (["x"], {"top_k": 1, "bogus": 1}, "bogus"),
    ],
)
def test_bad_requests_are_400s_naming_the_problem(
    http: httpx.Client, key: dict[str, str], inputs: list[Any], parameters: dict, words: str
) -> None:
    assert_refused(http, key, MODEL, {"inputs": inputs, "parameters": parameters}, words)
