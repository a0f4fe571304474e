"""OpenAI-compatible embeddings through PredictFunction's handler."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from tests.integration.conftest import Handler, event_file, http_event, invoke

pytestmark = pytest.mark.usefixtures("aws")
ROUTE = "POST /v1/embeddings"


def post(handler: Handler, body: object) -> tuple[int, dict]:
    status, _, answer = invoke(
        handler, http_event("POST", "/v1/embeddings", ROUTE, json.dumps(body).encode())
    )
    return status, answer


def test_base64_event_decodes_to_unit_float32_vectors(predict_handler: Handler) -> None:
    status, _, body = invoke(predict_handler, event_file("openai-embeddings.json"))
    assert status == 200 and body["object"] == "list" and body["model"] == "all-minilm-l6-v2"
    vectors = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(v.shape == (384,) and abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors)
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 4


def test_float_format_string_input_dimensions_and_token_arrays(predict_handler: Handler) -> None:
    status, one = post(predict_handler, {"model": "all-minilm-l6-v2", "input": "hello world"})
    assert status == 200 and len(one["data"]) == 1 and len(one["data"][0]["embedding"]) == 384
    status, short = post(
        predict_handler, {"model": "all-minilm-l6-v2", "input": "hello world", "dimensions": 64}
    )
    assert len(short["data"][0]["embedding"]) == 64
    ids = [101, 7592, 2088, 102]  # [CLS] hello world [SEP]
    status, tokens = post(predict_handler, {"model": "all-minilm-l6-v2", "input": ids})
    assert status == 200 and tokens["usage"]["prompt_tokens"] == 4
    np.testing.assert_allclose(
        tokens["data"][0]["embedding"], one["data"][0]["embedding"], atol=1e-5
    )
    status, batch = post(predict_handler, {"model": "all-minilm-l6-v2", "input": [ids, ids]})
    assert status == 200 and len(batch["data"]) == 2


@pytest.mark.parametrize(
    ("body", "status", "error_type", "param"),
    [
        ({"model": "nope", "input": "x"}, 404, "invalid_request_error", "name"),
        ({"model": "iris-rf", "input": "x"}, 400, "invalid_request_error", "model"),
        ({"model": "all-minilm-l6-v2"}, 400, "invalid_request_error", "input"),
        (
            {"model": "all-minilm-l6-v2", "input": "x", "encoding_format": "int8"},
            400,
            "invalid_request_error",
            "encoding_format",
        ),
        (
            {"model": "all-minilm-l6-v2", "input": "x", "dimensions": 999},
            400,
            "invalid_request_error",
            "dimensions",
        ),
    ],
)
def test_errors_come_in_openais_shape(
    predict_handler: Handler, body: dict, status: int, error_type: str, param: str
) -> None:
    code, answer = post(predict_handler, body)
    assert code == status
    assert answer["error"]["type"] == error_type and answer["error"]["param"] == param
    assert answer["error"]["message"]
