"""PredictFunction's handler with API Gateway events: Mangum, routing and JSON as deployed."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.conftest import load_testdata
from tests.integration.conftest import Handler, event_file, http_event, invoke

ROUTE = "POST /v1/models/{name}/predict"

pytestmark = pytest.mark.usefixtures("aws")  # quotas and usage live in DynamoDB


def predict_event(name: str, body: bytes, content_type: str | None = "application/json") -> dict:
    return http_event(
        "POST", f"/v1/models/{name}/predict", ROUTE, body, content_type, {"name": name}
    )


def test_embedding_event_returns_one_384_dimensional_unit_vector(predict_handler: Handler) -> None:
    status, headers, body = invoke(predict_handler, event_file("predict-embedding.json"))
    assert status == 200
    assert body["model"] == "all-minilm-l6-v2"
    (output,) = body["outputs"]
    vector = np.array(output["embedding"])
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert headers["x-model-version"] == "1"
    assert float(headers["x-inference-ms"]) > 0


def test_tabular_event_returns_labels_and_probabilities(predict_handler: Handler) -> None:
    status, _, body = invoke(predict_handler, event_file("predict-tabular.json"))
    assert status == 200
    setosa, virginica = body["outputs"]
    assert setosa["label"] == "setosa"
    assert virginica["label"] == "virginica"
    assert len(setosa["top_k"]) == 2
    assert sum(setosa["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_image_event_classifies_the_digit_as_array_and_png(predict_handler: Handler) -> None:
    # Given the event's first input, a test-split digit, and its PNG encoding
    event = event_file("predict-image.json")
    pixels = json.loads(event["body"])["inputs"][0]
    digits = load_testdata("digits_test")
    expected = str(digits["y"][digits["X"].index(pixels)])
    # When the handler classifies them, then both get the digit's true label
    status, _, body = invoke(predict_handler, event)
    assert status == 200
    assert [output["label"] for output in body["outputs"]] == [expected, expected]


def test_a_body_sent_without_content_type_is_still_read(predict_handler: Handler) -> None:
    # API Gateway base64-encodes a body it cannot tell is text
    event = predict_event("iris-rf", b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}', content_type=None)
    assert event["isBase64Encoded"] is True
    status, _, body = invoke(predict_handler, event)
    assert status == 200
    assert body["outputs"][0]["label"] == "setosa"


BAD_REQUESTS: list[tuple[str, str, bytes, int, str, str | None]] = [
    ("body not JSON", "iris-rf", b"{inputs: oops", 400, "not valid JSON", "body"),
    ("empty body", "iris-rf", b"", 400, "body is empty", "body"),
    ("JSON but not an object", "iris-rf", b"[1, 2]", 400, "valid dictionary", None),
    ("inputs missing", "iris-rf", b'{"input": [1]}', 400, "inputs: Field required", "inputs"),
    ("inputs not a list", "iris-rf", b'{"inputs": "abc"}', 400, "valid list", "inputs"),
    ("empty list", "all-minilm-l6-v2", b'{"inputs": []}', 400, "at least 1 item", "inputs"),
    ("wrong item type", "all-minilm-l6-v2", b'{"inputs": [42]}', 400, "must be a string",
     "inputs[0]"),
    ("10,000 inputs", "all-minilm-l6-v2", json.dumps({"inputs": ["hi"] * 10_000}).encode(), 400,
     "10000 inputs in one request", "inputs"),
    ("100,000-character text", "all-minilm-l6-v2",
     json.dumps({"inputs": ["a" * 100_000]}).encode(), 400, "has 100000 characters",
     "inputs[0]"),
    ("unknown model", "no-such-model", b'{"inputs": [1]}', 404, "'no-such-model' not found",
     "name"),
    ("wrong feature count", "iris-rf", b'{"inputs": [[1, 2, 3]]}', 400, "expects 4", "inputs[0]"),
    ("feature not a number", "iris-rf", b'{"inputs": [[1, 2, 3, "x"]]}', 400, "must be a number",
     "inputs[0].petal_width"),
    ("image that is not an image", "digits-cnn", b'{"inputs": ["aGVsbG8gd29ybGQ="]}', 400,
     "not a decodable PNG, JPEG or WebP", "inputs[0]"),
    ("unknown parameter", "iris-rf", b'{"inputs": [[1, 2, 3, 4]], "parameters": {"k": 1}}', 400,
     "Extra inputs are not permitted", "parameters.k"),
    ("top_k not a number", "iris-rf",
     b'{"inputs": [[1, 2, 3, 4]], "parameters": {"top_k": "two"}}', 400, "valid integer",
     "parameters.top_k"),
    ("model name not allowed", "Bad%20Name", b'{"inputs": [1]}', 400, "should match pattern",
     "path.name"),
    ("model name with a path", "..%2Fetc", b'{"inputs": [1]}', 400, "encoded slash", "path"),
    ("encoded slash to another route", "iris-rf%2Fversions", b'{"inputs": [1]}', 400,
     "encoded slash", "path"),
    ("encoded NUL", "iris-rf%00", b'{"inputs": [1]}', 400, "control character", "path"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "body", "status", "message", "param"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_get_a_4xx_json_error_naming_the_problem(
    predict_handler: Handler, model: str, body: bytes, status: int, message: str, param: str | None
) -> None:
    code, _, response = invoke(predict_handler, predict_event(model, body))
    assert code == status
    error: dict[str, Any] = response["error"]
    assert message in error["message"]
    if param is not None:
        assert error["param"] == param


def test_an_unknown_path_is_a_json_404(predict_handler: Handler) -> None:
    status, _, body = invoke(predict_handler, http_event("GET", "/v1/nothing", "$default"))
    assert status == 404
    assert body["error"]["code"] == "not_found"


def test_a_version_can_be_pinned_and_a_missing_one_is_404(predict_handler: Handler) -> None:
    pinned = b'{"inputs": [[5.1, 3.5, 1.4, 0.2]], "parameters": {"version": 1}}'
    assert invoke(predict_handler, predict_event("iris-rf", pinned))[0] == 200
    missing = b'{"inputs": [[5.1, 3.5, 1.4, 0.2]], "parameters": {"version": 9}}'
    status, _, body = invoke(predict_handler, predict_event("iris-rf", missing))
    assert status == 404 and body["error"]["param"] == "version"
