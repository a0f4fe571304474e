"""Tests that guard what the README promises (issue #19): the exact input limits, the OIP
route's embeddings, metering and quota on every inference route, the revocation delay."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from PIL import Image

from aiaas.auth.apikeys import ApiKey, generate_key
from aiaas.auth.authorizer import Authorizer
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.errors import Unauthorized
from tests.aws import AwsResources
from tests.integration.conftest import CALLER, http_event, invoke, load_function

MINILM = "all-minilm-l6-v2"


@pytest.fixture
def predict(aws: AwsResources) -> ModuleType:
    return load_function("predict")


def native(module: ModuleType, model: str, inputs: list[Any], caller: dict | None = None) -> Any:
    event = http_event("POST", f"/v1/models/{model}/predict", "POST /v1/models/{name}/predict",
                       json.dumps({"inputs": inputs}).encode(), path_parameters={"name": model},
                       caller=caller or CALLER)  # fmt: skip
    return invoke(module.handler, event)


def oip(module: ModuleType, texts: list[str], caller: dict | None = None) -> Any:
    body = {"inputs": [{"name": "text", "shape": [len(texts)], "datatype": "BYTES",
                        "data": texts}]}  # fmt: skip
    event = http_event("POST", f"/v2/models/{MINILM}/infer", "POST /v2/models/{name}/infer",
                       json.dumps(body).encode(), path_parameters={"name": MINILM},
                       caller=caller or CALLER)  # fmt: skip
    return invoke(module.handler, event)


def openai(module: ModuleType, texts: list[str], caller: dict | None = None) -> Any:
    event = http_event("POST", "/v1/embeddings", "POST /v1/embeddings",
                       json.dumps({"model": MINILM, "input": texts,
                                   "encoding_format": "float"}).encode(),
                       caller=caller or CALLER)  # fmt: skip
    return invoke(module.handler, event)


def test_256_inputs_pass_and_257_do_not(predict: ModuleType) -> None:
    assert native(predict, "iris-rf", [[5.1, 3.5, 1.4, 0.2]] * 256)[0] == 200
    status, _, body = native(predict, "iris-rf", [[5.1, 3.5, 1.4, 0.2]] * 257)
    assert status == 400 and "257 inputs" in body["error"]["message"]


def test_20000_characters_pass_and_20001_do_not(predict: ModuleType) -> None:
    assert native(predict, MINILM, ["a " * 10_000])[0] == 200
    status, _, body = native(predict, MINILM, ["a " * 10_000 + "b"])
    assert status == 400 and "has 20001 characters; the limit is 20000" in body["error"]["message"]


def png_of(size: int) -> str:
    """A PNG of exactly ``size`` bytes (a digit image padded with a private ancillary chunk)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    png = buffer.getvalue()
    pad = size - len(png) - 12  # chunk length, type and CRC

    chunk = b"prVt" + b"\0" * pad
    padded = png[:-12] + struct.pack(">I", pad) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return base64.b64encode(padded + png[-12:]).decode()


def test_4_mb_images_pass_and_one_byte_more_does_not(predict: ModuleType) -> None:
    limit = 4 * 1024 * 1024
    assert native(predict, "digits-cnn", [png_of(limit - 3)])[0] == 200
    status, _, body = native(predict, "digits-cnn", [png_of(limit + 3)])
    assert status == 400 and f"larger than {limit} bytes" in body["error"]["message"]


def test_the_body_limit_is_exact(predict: ModuleType) -> None:
    limit = 6 * 1024 * 1024
    filler = json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]}).encode()
    at = filler + b" " * (limit - len(filler))
    status, _, _ = invoke(predict.handler, http_event(
        "POST", "/v1/models/iris-rf/predict", "POST /v1/models/{name}/predict", at,
        path_parameters={"name": "iris-rf"}))  # fmt: skip
    assert status == 200
    status, _, body = invoke(predict.handler, http_event(
        "POST", "/v1/models/iris-rf/predict", "POST /v1/models/{name}/predict", at + b" ",
        path_parameters={"name": "iris-rf"}))  # fmt: skip
    assert status == 413 and f"the limit is {limit}" in body["error"]["message"]


def test_oip_embeddings_are_the_native_routes_in_the_same_order(predict: ModuleType) -> None:
    texts = ["the first text", "a second, longer text about something else", "3"]
    _, _, native_body = native(predict, MINILM, texts)
    _, _, oip_body = oip(predict, texts)
    (output,) = oip_body["outputs"]
    got = np.array(output["data"], dtype=np.float32).reshape(output["shape"])
    want = np.array([o["embedding"] for o in native_body["outputs"]], dtype=np.float32)
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("route", ["native", "oip", "openai"])
def test_every_inference_route_is_metered_and_under_quota(
    predict: ModuleType, aws: AwsResources, route: str
) -> None:
    caller = {**CALLER, "key_id": f"quota{route}".ljust(16, "x"), "daily_quota": 2}
    aws.put_key(caller["key_id"])
    call = {"native": lambda: native(predict, MINILM, ["hi"], caller),
            "oip": lambda: oip(predict, ["hi"], caller),
            "openai": lambda: openai(predict, ["hi"], caller)}[route]  # fmt: skip
    statuses = [call()[0] for _ in range(3)]
    assert statuses == [200, 200, 429]

    report = predict.services.usage.report(Principal.from_context(caller), None, None)
    assert report["by_key"] == {caller["key_id"]: 2} and report["by_model"] == {MINILM: 2}


class OneKey:
    def __init__(self, record: ApiKey) -> None:
        self.record = record
        self.reads = 0

    def get(self, key_id: str) -> ApiKey | None:
        self.reads += 1
        return self.record if key_id == self.record.key_id else None


class NoSecret:
    def value(self) -> bytes:
        return b"x" * 32


def test_a_revoked_key_stops_working_within_the_revocation_delay() -> None:
    # Given a key the authorizer has seen (and cached), revoked at t=100
    new = generate_key()
    record = ApiKey(new.key_id, "t", "u", "k", ALL_SCOPES, new.digest, created_at=0)
    store, now = OneKey(record), [100.0]
    authorizer = Authorizer(store, NoSecret(), cache_seconds=30, clock=lambda: now[0])  # type: ignore[arg-type]
    headers = {"authorization": f"Bearer {new.value}"}
    authorizer.authenticate(headers)

    store.record = replace(record, revoked_at=100)
    # Then it still works from the cache for up to 30 s, and not after
    now[0] = 129.0
    authorizer.authenticate(headers)
    now[0] = 131.0
    with pytest.raises(Unauthorized, match="revoked"):
        authorizer.authenticate(headers)
