"""A built-in the models layer does not carry, over real HTTP: the local stack seeds it into
the weights bucket at start, as ``make seed`` does after a deploy, and every route serves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aiaas_dev.stack import LocalStack
from tests.conftest import load_testdata
from tests.e2e.accounts import new_account
from tests.e2e.inprocess import in_process_stack

pytestmark = pytest.mark.e2e
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


@pytest.fixture(scope="module")
def stack(models_dir: Path) -> Iterator[LocalStack]:
    layer = {"AIAAS_LAYER_MODELS": "all-minilm-l6-v2,digits-cnn"}  # iris-rf: S3 only
    with in_process_stack(models_dir, env=layer) as running:
        yield running


def test_iris_is_listed_and_served_from_s3_on_every_route(stack: LocalStack) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        headers = {"x-api-key": new_account(http)["key"]}
        listed = http.get("/v1/models", headers=headers).json()["data"]
        iris = next(m for m in listed if m["id"] == "iris-rf")
        assert iris["owned_by"] == "aiaas" and iris["task"] == "tabular-classification"
        native = http.post("/v1/models/iris-rf/predict", headers=headers, json={"inputs": ROWS})
        assert native.status_code == 200, native.text
        labels = [o["label"] for o in native.json()["outputs"]]
        assert labels == ["setosa", "virginica", "versicolor"]
        assert native.headers["x-model-variant"] == "int8"
        body = {"inputs": [{"name": "float_input", "datatype": "FP32", "shape": [3, 4],
                            "data": [v for row in ROWS for v in row]}]}  # fmt: skip
        oip = http.post("/v2/models/iris-rf/infer", headers=headers, json=body)
        assert oip.status_code == 200, oip.text
        label = next(o for o in oip.json()["outputs"] if o["name"] == "label")
        assert label["data"] == [0, 2, 1]


def test_the_image_classifier_is_served_from_s3_with_its_fp32_file(stack: LocalStack) -> None:
    samples = load_testdata("imagenet_samples")["images"]
    with httpx.Client(base_url=stack.base_url, timeout=60) as http:
        headers = {"x-api-key": new_account(http)["key"]}
        body = {"inputs": [s["jpeg_base64"] for s in samples], "parameters": {"top_k": 5}}
        answer = http.post("/v1/models/image-classifier/predict", headers=headers, json=body)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-model-variant"] == "fp32"  # int8 failed its build's gate
        outputs = answer.json()["outputs"]
        assert [[t["label"] for t in o["top_k"]] for o in outputs] == [s["top5"] for s in samples]
