"""CatalogFunction and RegisterModelFunction handlers on moto: create, upload, register."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from tests.aws import AwsResources
from tests.integration.conftest import CALLER, Handler, http_event, load_function
from tests.unit import catalog_models as cm

pytestmark = pytest.mark.usefixtures("aws")
TENANT_A = {**CALLER, "tenant": "tnt_aaaaaaaaaaaaaaaa"}
TENANT_B = {**CALLER, "tenant": "tnt_bbbbbbbbbbbbbbbb"}


@pytest.fixture
def catalog(aws: AwsResources) -> Handler:
    """A cold start per test: the catalog seeds the built-in models into this test's moto."""
    handler: Handler = load_function("catalog").handler
    return handler


@pytest.fixture
def register(aws: AwsResources) -> Handler:
    handler: Handler = load_function("register").handler
    return handler


def call(
    handler: Handler,
    method: str,
    path: str,
    route: str,
    body: Any = None,
    caller: dict[str, Any] | None = TENANT_A,
    **params: str,
) -> tuple[int, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    response = handler(
        http_event(method, path, route, raw, caller=caller, path_parameters=params or None), None
    )
    return response["statusCode"], json.loads(response.get("body") or "null")


def s3_event(bucket: str, key: str) -> dict[str, Any]:
    """What S3 sends a function for an upload (keys arrive quote_plus-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Post",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key)}},
            }
        ]
    }


def upload(catalog: Handler, register: Handler, aws: AwsResources, name: str, data: bytes) -> dict:
    """Create a version, POST the file to its presigned form, deliver the S3 event."""
    status, version = call(
        catalog, "POST", f"/v1/models/{name}/versions", "POST /v1/models/{name}/versions", name=name
    )
    assert status == 201, version
    form = version["upload"]
    response = httpx.post(form["url"], data=form["fields"], files={"file": ("model.onnx", data)})
    assert response.status_code in (200, 204), response.text
    key = form["fields"]["key"]
    register(s3_event(aws.weights_bucket, key), None)
    status, current = call(
        catalog,
        "GET",
        f"/v1/models/{name}/versions/{version['version']}",
        "GET /v1/models/{name}/versions/{version}",
        name=name,
        version=str(version["version"]),
    )
    assert status == 200
    return {**current, "key": key}


def create(catalog: Handler, name: str, caller: dict[str, Any] = TENANT_A) -> None:
    status, body = call(
        catalog,
        "POST",
        "/v1/models",
        "POST /v1/models",
        {"name": name, "task": "tabular-classification"},
        caller=caller,
    )
    assert status == 201, body


def test_builtins_are_public_in_an_openai_shaped_list(catalog: Handler) -> None:
    status, body = call(catalog, "GET", "/v1/models", "GET /v1/models")
    assert status == 200 and body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    assert set(models) == {
        "all-minilm-l6-v2", "iris-rf", "digits-cnn", "image-classifier", "sentiment",
        "face-detector", "ocr", "smollm2-135m-instruct", "whisper-tiny-en",
    }  # fmt: skip
    assert models["iris-rf"]["object"] == "model" and models["iris-rf"]["owned_by"] == "aiaas"
    assert models["all-minilm-l6-v2"]["outputs"][0]["shape"] == [-1, 384]
    # each built-in's latency profile from its build, priced like a registered model's
    for name, model in models.items():
        latency = model["latency"]
        if model["task"] == "chat":  # priced per generated token, at ChatFunction's memory
            assert latency["cost_per_million_output_tokens_usd"] > 0, name
            assert latency["memory_mb"] == 3538 and latency["decode_tokens_per_s"] > 0
            continue
        if model["task"] == "speech-recognition":  # per hour of audio, at ChatFunction's memory
            assert 0 < latency["cost_per_audio_hour_usd"] < 0.36, name  # OpenAI's whisper-1
            assert latency["memory_mb"] == 3538 and latency["real_time_factor"] > 1
            continue
        assert latency["p50_ms"]["1"] > 0 and latency["cost_per_million_usd"] > 0, name
        assert latency["variant"] in {"int8", "fp32"} and latency["memory_mb"] == 2048
    assert models["face-detector"]["latency"]["cost_per_million_batched_usd"] is None  # batch 1
    assert models["iris-rf"]["latency"]["cost_per_million_batched_usd"] > 0
    event = http_event(
        "GET", "/v1/models", "GET /v1/models", caller=TENANT_A, query="task=embedding"
    )
    filtered = json.loads(catalog(event, None)["body"])["data"]
    assert [m["id"] for m in filtered] == ["all-minilm-l6-v2"]


def test_upload_becomes_ready_with_tensors_quality_and_latency(
    catalog: Handler, register: Handler, aws: AwsResources
) -> None:
    # Given a fresh scikit-learn model exported by the user
    create(catalog, "wine-lr")
    version = upload(catalog, register, aws, "wine-lr", cm.to_bytes(cm.logistic_regression()))
    # Then it is READY, described, quantization decided, latency and cost measured
    assert version["status"] == "READY", version
    assert version["inputs"][0]["datatype"] == "FP32" and version["inputs"][0]["shape"][0] == -1
    assert {o["datatype"] for o in version["outputs"]} <= {"INT64", "FP32"}
    assert "kept" in version["quality"]["int8"]
    assert float(version["latency"]["p50_ms"]["1"]) > 0
    assert version["latency"]["cost_per_million_usd"] > 0
    assert (
        0
        < version["latency"]["cost_per_million_batched_usd"]
        < (version["latency"]["cost_per_million_usd"])
    )  # 32 rows to a request: fewer requests, better use of the CPU
    # And its weights are in the bucket, encrypted
    s3 = aws.client("s3")
    head = s3.head_object(
        Bucket=aws.weights_bucket, Key=f"{TENANT_A['tenant']}/wine-lr/1/model.fp32.onnx"
    )
    assert head["ServerSideEncryption"] == "AES256"
    # And the owner lists it as the default version; another tenant sees nothing of it
    listed = {m["id"]: m for m in call(catalog, "GET", "/v1/models", "GET /v1/models")[1]["data"]}
    assert listed["wine-lr"]["default_version"] == 1
    others = call(catalog, "GET", "/v1/models", "GET /v1/models", caller=TENANT_B)[1]["data"]
    assert "wine-lr" not in {m["id"] for m in others}
    status, _ = call(
        catalog,
        "GET",
        "/v1/models/wine-lr",
        "GET /v1/models/{name}",
        caller=TENANT_B,
        name="wine-lr",
    )
    assert status == 404


def test_replayed_s3_event_registers_once(
    catalog: Handler, register: Handler, aws: AwsResources
) -> None:
    create(catalog, "mlp-one")
    version = upload(catalog, register, aws, "mlp-one", cm.to_bytes(cm.mlp()))
    assert version["status"] == "READY"
    again = register(s3_event(aws.weights_bucket, version["key"]), None)
    assert again["outcomes"] == {version["key"]: "SKIPPED"}
    _status, after = call(
        catalog,
        "GET",
        "/v1/models/mlp-one/versions",
        "GET /v1/models/{name}/versions",
        name="mlp-one",
    )
    assert [v["version"] for v in after["data"]] == [1] and after["data"][0]["status"] == "READY"


BAD_UPLOADS = {
    "not ONNX": (cm.random_bytes(), "not an ONNX model"),
    "truncated": (cm.to_bytes(cm.mlp())[:300], "not an ONNX model"),
    "custom op": (cm.to_bytes(cm.custom_op()), "custom"),
    "fails the checker": (cm.to_bytes(cm.undefined_input()), "checker"),
    "opset too new": (cm.to_bytes(cm.mlp(opset=99)), "opset"),
    "fails to run": (cm.to_bytes(cm.impossible_reshape()), "run"),
    "non-tensor output": (cm.to_bytes(cm.logistic_regression(zipmap=True)), "tensor"),
    "external data": (cm.to_bytes(cm.external_data()), "external"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=list(BAD_UPLOADS))
def test_bad_uploads_end_failed_with_a_reason_and_change_nothing_else(
    catalog: Handler, register: Handler, aws: AwsResources, case: str
) -> None:
    data, words = BAD_UPLOADS[case]
    create(catalog, "bad-model")
    version = upload(catalog, register, aws, "bad-model", data)
    assert version["status"] == "FAILED"
    assert words.lower() in version["reason"].lower(), version["reason"]
    model = call(catalog, "GET", "/v1/models/bad-model", "GET /v1/models/{name}", name="bad-model")[
        1
    ]
    assert model["default_version"] is None
    objects = aws.client("s3").list_objects_v2(Bucket=aws.weights_bucket).get("Contents", [])
    assert all(o["Key"].startswith("uploads/") for o in objects)


def test_names_visibility_and_conflicts(catalog: Handler) -> None:
    status, body = call(
        catalog, "POST", "/v1/models", "POST /v1/models", {"name": "Bad Name", "task": "custom"}
    )
    assert status == 400 and body["error"]["param"] == "name"
    status, body = call(
        catalog,
        "POST",
        "/v1/models",
        "POST /v1/models",
        {"name": "mine", "task": "custom", "visibility": "public"},
    )
    assert status == 403 and "admin" in body["error"]["message"]
    create(catalog, "mine")
    status, _ = call(
        catalog, "POST", "/v1/models", "POST /v1/models", {"name": "mine", "task": "custom"}
    )
    assert status == 409
    status, _ = call(
        catalog, "POST", "/v1/models", "POST /v1/models", {"name": "iris-rf", "task": "custom"}
    )
    assert status == 409  # a public name
    create(catalog, "mine", caller=TENANT_B)  # names live in each tenant's namespace


def test_open_inference_protocol_metadata_and_health(catalog: Handler) -> None:
    assert call(catalog, "GET", "/v2/health/live", "GET /v2/health/live", caller=None) == (
        200,
        {"live": True},
    )
    assert call(catalog, "GET", "/v2/health/ready", "GET /v2/health/ready", caller=None)[1] == {
        "ready": True
    }
    status, server = call(catalog, "GET", "/v2", "GET /v2")
    assert status == 200 and server["name"] == "aiaas"
    status, meta = call(
        catalog, "GET", "/v2/models/iris-rf", "GET /v2/models/{name}", name="iris-rf"
    )
    assert meta["versions"] == ["1"] and meta["inputs"][0]["name"] == "float_input"
    status, ready = call(
        catalog, "GET", "/v2/models/iris-rf/ready", "GET /v2/models/{name}/ready", name="iris-rf"
    )
    assert status == 200 and ready["ready"] is True
    status, error = call(catalog, "GET", "/v2/models/nope", "GET /v2/models/{name}", name="nope")
    assert status == 404 and isinstance(error["error"], str)


def test_deleting_a_version_stops_serving_it_and_tags_its_weights_for_expiry(
    catalog: Handler, register: Handler, aws: AwsResources
) -> None:
    create(catalog, "short-lived")
    version = upload(catalog, register, aws, "short-lived", cm.to_bytes(cm.mlp()))
    assert version["status"] == "READY"
    status, _ = call(
        catalog,
        "DELETE",
        "/v1/models/short-lived/versions/1",
        "DELETE /v1/models/{name}/versions/{version}",
        name="short-lived",
        version="1",
    )
    assert status == 204
    status, _ = call(
        catalog,
        "GET",
        "/v1/models/short-lived/versions/1",
        "GET /v1/models/{name}/versions/{version}",
        name="short-lived",
        version="1",
    )
    assert status == 404
    model = call(
        catalog, "GET", "/v1/models/short-lived", "GET /v1/models/{name}", name="short-lived"
    )[1]
    assert model["default_version"] is None and model["versions"] == []
    key = f"{TENANT_A['tenant']}/short-lived/1/model.fp32.onnx"
    tags = aws.client("s3").get_object_tagging(Bucket=aws.weights_bucket, Key=key)["TagSet"]
    assert {"Key": "aiaas-deleted", "Value": "true"} in tags


def test_each_new_version_gets_the_next_number(catalog: Handler) -> None:
    create(catalog, "many-versions")
    numbers = []
    for _ in range(3):
        status, version = call(
            catalog,
            "POST",
            "/v1/models/many-versions/versions",
            "POST /v1/models/{name}/versions",
            name="many-versions",
        )
        assert status == 201
        numbers.append(version["version"])
    assert numbers == [1, 2, 3]
    listed = call(
        catalog,
        "GET",
        "/v1/models/many-versions/versions",
        "GET /v1/models/{name}/versions",
        name="many-versions",
    )[1]["data"]
    assert [v["version"] for v in listed] == [1, 2, 3]
