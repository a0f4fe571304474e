"""Hostile bodies through the handlers (issue #19, items 1-5): each is a 4xx JSON error, none
costs more than a moment, and nothing refused is metered."""

from __future__ import annotations

import gzip
import json
import time
import zlib
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from aiaas.auth.principal import Principal
from tests.aws import AwsResources
from tests.integration.conftest import CALLER, http_event, invoke, load_function

OIP = "POST /v2/models/{name}/infer"
NATIVE = "POST /v1/models/{name}/predict"


@pytest.fixture
def predict(aws: AwsResources) -> ModuleType:
    """A fresh PredictFunction, as a module (its services object is reachable)."""
    return load_function("predict")


def oip_event(model: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = http_event("POST", f"/v2/models/{model}/infer", OIP, body, content_type=None,
                       path_parameters={"name": model})  # fmt: skip
    event["headers"].update(headers or {})
    return event


def native_event(model: str, inputs: list[Any]) -> dict[str, Any]:
    body = json.dumps({"inputs": inputs}).encode()
    return http_event("POST", f"/v1/models/{model}/predict", NATIVE, body,
                      path_parameters={"name": model})  # fmt: skip


def text_tensor(data: list[Any]) -> bytes:
    return json.dumps(
        {"inputs": [{"name": "text", "shape": [len(data)], "datatype": "BYTES", "data": data}]}
    ).encode()


def metered(module: ModuleType) -> int:
    caller = Principal.from_context(CALLER)
    return int(module.services.usage.report(caller, None, None)["total"])


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_decompression_bomb_is_413_without_inflating_it(
    predict: ModuleType, encoding: str
) -> None:
    # Given 1 GiB of zeros compressed to about 1 MB
    raw = b"\0" * (1 << 30)
    bomb = gzip.compress(raw, 9) if encoding == "gzip" else zlib.compress(raw, 9)
    del raw
    started = time.perf_counter()
    event = oip_event("all-minilm-l6-v2", bomb, {"content-encoding": encoding})
    status, _, body = invoke(predict.handler, event)
    # Then it stops at the body limit at once
    assert status == 413 and "inflates to over" in body["error"]
    assert time.perf_counter() - started < 1.0
    # and a body that inflates within the limit is still read
    small = (
        gzip.compress(text_tensor(["hello"]))
        if encoding == "gzip"
        else zlib.compress(text_tensor(["hello"]))
    )
    ok = oip_event("all-minilm-l6-v2", small, {"content-encoding": encoding})
    assert invoke(predict.handler, ok)[0] == 200
    truncated = oip_event("all-minilm-l6-v2", small[:-6], {"content-encoding": encoding})
    assert invoke(predict.handler, truncated)[0] == 400


HOSTILE_OIP = [
    ("lone surrogate", b'{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", '
     b'"data": ["\\ud800"]}]}', "no low surrogate"),
    ("integer 10**400 as FP32", b'{"inputs": [{"name": "float_input", "shape": [1, 4], '
     b'"datatype": "FP32", "data": [1' + b"0" * 400 + b', 1, 1, 1]}]}', "not valid JSON"),
    ("NaN literal", b'{"inputs": [{"name": "float_input", "shape": [1, 4], "datatype": "FP32",'
     b' "data": [NaN, 1, 1, 1]}]}', "not valid JSON"),
    ("Infinity literal", b'{"inputs": [{"name": "float_input", "shape": [1, 4], '
     b'"datatype": "FP32", "data": [Infinity, 1, 1, 1]}]}', "not valid JSON"),
    ("3.5e38 overflows FP32", b'{"inputs": [{"name": "float_input", "shape": [1, 4], '
     b'"datatype": "FP32", "data": [3.5e38, 1, 1, 1]}]}', "not a finite FP32 number"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), [c[1:] for c in HOSTILE_OIP],
                         ids=[c[0] for c in HOSTILE_OIP])  # fmt: skip
def test_hostile_oip_values_are_400_and_not_metered(
    predict: ModuleType, body: bytes, message: str
) -> None:
    model = "all-minilm-l6-v2" if b"BYTES" in body else "iris-rf"
    status, _, answer = invoke(predict.handler, oip_event(model, body))
    assert status == 400, answer
    assert message in answer["error"]
    assert metered(predict) == 0


def test_non_finite_binary_tensors_are_400(predict: ModuleType) -> None:
    rows = np.array([[np.nan, 1, 1, 1]], dtype="<f4").tobytes()
    tensor = {"name": "float_input", "shape": [1, 4], "datatype": "FP32",
              "parameters": {"binary_data_size": len(rows)}}  # fmt: skip
    header = json.dumps({"inputs": [tensor]}).encode()
    event = oip_event("iris-rf", header + rows,
                      {"inference-header-content-length": str(len(header))})  # fmt: skip
    status, _, answer = invoke(predict.handler, event)
    assert status == 400 and "inputs must be finite" in answer["error"]


def test_the_native_route_refuses_overflowing_numbers_instead_of_answering_null(
    predict: ModuleType,
) -> None:
    status, _, answer = invoke(predict.handler, native_event("iris-rf", [[3.5e38, 1, 1, 1]]))
    assert status == 400 and "float32 holds" in answer["error"]["message"]
    assert answer["error"]["param"] == "inputs[0].sepal_length"


def test_only_valid_answered_requests_are_metered(predict: ModuleType) -> None:
    # Given two rejected requests (a bad row, an unknown version) and one good one
    bad = native_event("iris-rf", [[1, 2, 3]])
    assert invoke(predict.handler, bad)[0] == 400
    tensor = {"name": "float_input", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}
    body = json.dumps({"inputs": [tensor]}).encode()
    missing = http_event("POST", "/v2/models/iris-rf/versions/9/infer",
                         "POST /v2/models/{name}/versions/{version}/infer", body,
                         path_parameters={"name": "iris-rf", "version": "9"})  # fmt: skip
    assert invoke(predict.handler, missing)[0] == 404
    # Then nothing is counted; the good one counts once
    assert metered(predict) == 0
    assert invoke(predict.handler, native_event("iris-rf", [[5.1, 3.5, 1.4, 0.2]]))[0] == 200
    assert metered(predict) == 1


def test_binary_bodies_are_limited_to_what_fits_base64_encoded_in_the_event(
    predict: ModuleType,
) -> None:
    # Given binary bodies (sent base64-encoded in the event, as API Gateway sends them)
    limit = (6 * 1024 * 1024 - 64 * 1024) * 3 // 4
    over = oip_event("iris-rf", b"\0" * (limit + 1))
    assert over["isBase64Encoded"] is True
    status, _, answer = invoke(predict.handler, over)
    assert status == 413 and f"the limit is {limit}" in answer["error"]
    assert "base64" in answer["error"]
    # Then a body at the limit is read (and refused for what it says, not its size)
    at = invoke(predict.handler, oip_event("iris-rf", b"\0" * limit))
    assert at[0] == 400, at
