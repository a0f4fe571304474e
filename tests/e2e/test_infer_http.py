"""Open Inference Protocol inference over real HTTP, with Triton's own HTTP client."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.conftest import load_testdata
from tests.e2e.accounts import new_account

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api_key(local_stack: str) -> str:
    with httpx.Client(base_url=local_stack, timeout=30) as client:
        return str(new_account(client)["key"])


@pytest.fixture
def headers(api_key: str) -> dict[str, str]:
    """A fresh dict per test: tritonclient writes its own headers into the one it is given."""
    return {"x-api-key": api_key}


@pytest.fixture(scope="module")
def triton_client(local_stack: str) -> triton.InferenceServerClient:
    return triton.InferenceServerClient(url=urlsplit(local_stack).netloc, network_timeout=30)


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_iris_rows_get_labels_and_probabilities(
    triton_client: triton.InferenceServerClient, headers: dict, binary: bool
) -> None:
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
    tensor = triton.InferInput("float_input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows, binary_data=binary)
    outputs = [
        triton.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")
    ]
    result = triton_client.infer(
        "iris-rf", [tensor], outputs=outputs, headers=headers, request_id="r-1"
    )
    assert result.as_numpy("label").tolist() == [0, 2]
    assert result.as_numpy("probabilities").shape == (2, 3)
    assert result.get_response()["id"] == "r-1"


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_digits_classify_with_the_graphs_own_normalized_input(
    triton_client: triton.InferenceServerClient, headers: dict, binary: bool
) -> None:
    digits = load_testdata("digits_test")
    pixels = np.asarray(digits["X"][:16], dtype=np.float32) / 16.0
    normalized = ((pixels - 0.305383) / 0.376119).reshape(16, 1, 8, 8).astype(np.float32)
    tensor = triton.InferInput("input", list(normalized.shape), "FP32")
    tensor.set_data_from_numpy(normalized, binary_data=binary)
    outputs = [triton.InferRequestedOutput("logits", binary_data=binary)]
    result = triton_client.infer("digits-cnn", [tensor], outputs=outputs, headers=headers)
    predicted = result.as_numpy("logits").argmax(axis=1)
    assert (predicted == np.array(digits["y"][:16])).mean() >= 0.9


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_minilm_embeds_bytes_texts(
    triton_client: triton.InferenceServerClient, headers: dict, binary: bool
) -> None:
    texts = np.array([b"hello world", "caf\u00e9 au lait".encode()], dtype=np.object_)
    tensor = triton.InferInput("text", [2], "BYTES")
    tensor.set_data_from_numpy(texts, binary_data=binary)
    result = triton_client.infer(
        "all-minilm-l6-v2",
        [tensor],
        headers=headers,
        outputs=[triton.InferRequestedOutput("sentence_embedding", binary_data=binary)],
    )
    vectors = result.as_numpy("sentence_embedding")
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_versioned_path_and_a_stage_free_error(
    triton_client: triton.InferenceServerClient, headers: dict
) -> None:
    tensor = triton.InferInput("float_input", [1, 4], "FP32")
    tensor.set_data_from_numpy(np.ones((1, 4), dtype=np.float32))
    assert triton_client.infer("iris-rf", [tensor], model_version="1", headers=headers)
    with pytest.raises(InferenceServerException, match="no version"):
        triton_client.infer("iris-rf", [tensor], model_version="7", headers=headers)


def oip(inputs: list[dict], tail: bytes = b"") -> bytes:
    return json.dumps({"inputs": inputs}).encode() + tail


def row(**changes: object) -> dict:
    return {
        "name": "float_input",
        "shape": [1, 4],
        "datatype": "FP32",
        "data": [1, 2, 3, 4],
        **changes,
    }


BINARY = {
    "name": "float_input",
    "shape": [1, 4],
    "datatype": "FP32",
    "parameters": {"binary_data_size": 8},
}
MALFORMED = {
    "shape and data disagree": (oip([row(data=[1, 2, 3])]), None, "needs 4"),
    "wrong datatype": (oip([row(datatype="INT64")]), None, "does not match"),
    "unknown input": (oip([row(name="x")]), None, "unknown input"),
    "binary size disagrees": (oip([BINARY], b"\0" * 8), len(oip([BINARY])), "binary_data_size"),
    "header longer than body": (oip([]), 500, "outside"),
    "nested data of the wrong depth": (oip([row(data=[[[1, 2, 3, 4]]])]), None, "nested"),
    "not JSON": (b"{nope", None, "not valid JSON"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_requests_are_400_with_a_json_error(
    local_stack: str, headers: dict, case: str
) -> None:
    body, header_length, words = MALFORMED[case]
    extra = {"Inference-Header-Content-Length": str(header_length)} if header_length else {}
    response = httpx.post(
        f"{local_stack}/v2/models/iris-rf/infer", content=body, headers={**headers, **extra}
    )
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


def test_non_utf8_bytes_for_a_text_model_is_400(local_stack: str, headers: dict) -> None:
    header = oip(
        [{"name": "text", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 6}}]
    )
    body = header + (2).to_bytes(4, "little") + b"\xff\xfe"
    response = httpx.post(
        f"{local_stack}/v2/models/all-minilm-l6-v2/infer",
        content=body,
        headers={**headers, "Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]
