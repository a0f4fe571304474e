"""The predict API over real HTTP on loopback, served by the local stack from template.yaml."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import load_testdata
from tests.e2e.accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(local_stack: str) -> httpx.Client:
    """A client with an API key of a fresh account (scopes predict, models:read)."""
    with httpx.Client(base_url=local_stack, timeout=30) as client:
        client.headers["x-api-key"] = new_account(client)["key"]
        yield client


def test_models_are_listed(client: httpx.Client) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    assert {m["id"] for m in response.json()["data"]} == {
        "all-minilm-l6-v2", "iris-rf", "digits-cnn", "image-classifier", "sentiment",
        "face-detector", "ocr", "smollm2-135m-instruct", "whisper-tiny-en",
    }  # fmt: skip


def test_hello_world_embeds_to_one_384_dimensional_unit_vector(client: httpx.Client) -> None:
    response = client.post("/v1/models/all-minilm-l6-v2/predict", json={"inputs": ["hello world"]})
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    vector = np.array(output["embedding"])
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_iris_row_gets_a_label_and_class_probabilities(client: httpx.Client) -> None:
    response = client.post("/v1/models/iris-rf/predict", json={"inputs": [[5.1, 3.5, 1.4, 0.2]]})
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["label"] == "setosa"
    assert set(output["probabilities"]) == {"setosa", "versicolor", "virginica"}


def test_test_split_digits_are_classified_correctly_as_arrays_and_pngs(
    client: httpx.Client,
) -> None:
    digits = load_testdata("digits_test")
    pixels, labels = digits["X"][:20], [str(y) for y in digits["y"][:20]]
    pngs = []
    for image in pixels:
        array = (np.asarray(image) * 255 / 16).round().astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(array, mode="L").save(buffer, format="PNG")
        pngs.append(base64.b64encode(buffer.getvalue()).decode())
    response = client.post("/v1/models/digits-cnn/predict", json={"inputs": pixels + pngs})
    assert response.status_code == 200, response.text
    predicted = [o["label"] for o in response.json()["outputs"]]
    assert predicted[:20] == predicted[20:]
    assert sum(p == y for p, y in zip(predicted[:20], labels, strict=True)) >= 19


@pytest.mark.parametrize(
    ("path", "content", "status", "message"),
    [
        ("/v1/models/iris-rf/predict", b"not json", 400, "not valid JSON"),
        ("/v1/models/iris-rf/predict", b'{"inputs": [[1, 2]]}', 400, "expects 4"),
        ("/v1/models/all-minilm-l6-v2/predict", b'{"inputs": []}', 400, "at least 1 item"),
        ("/v1/models/nope/predict", b'{"inputs": [1]}', 404, "not found"),
        ("/v1/models/digits-cnn/predict", b'{"inputs": ["bm90IGFuIGltYWdl"]}', 400,
         "not a decodable"),
    ],
)  # fmt: skip
def test_bad_requests_get_json_errors(
    client: httpx.Client, path: str, content: bytes, status: int, message: str
) -> None:
    response = client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def test_a_body_over_lambdas_6_mb_limit_is_refused_before_the_function(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/v1/models/all-minilm-l6-v2/predict",
        content=b'{"inputs": ["' + b"a" * (7 * 1024 * 1024) + b'"]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
