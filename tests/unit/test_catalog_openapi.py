"""The catalog's OpenAPI document (typed bodies, documented errors) and its declared metadata."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from aiaas.domain.catalog_records import ModelVersion
from aiaas.errors import InvalidInput
from aiaas.web.body import parse_as
from aiaas.web.routes import catalog, oip
from aiaas.web.schemas.catalog import NewModel, NewVersionPublic, VersionPublic

VERSION = {"version", "status", "reason", "created", "sha256", "size", "inputs", "outputs",
           "quality", "latency", "variants", "ignored_uploads", "training",
           "background", "capture", "baseline"}  # fmt: skip
MODEL = {"id", "object", "created", "owned_by", "task", "description", "visibility", "runtime",
         "default_version", "versions", "inputs", "outputs", "quality", "latency",
         "labels", "features", "output", "scores_kind", "preprocessing", "detection"}  # fmt: skip
LIST = {"object", "data", "has_more"}
METADATA = {"name", "versions", "platform", "inputs", "outputs"}
# (method, path): (success status, properties of its body, error statuses it documents)
ROUTES: dict[tuple[str, str], tuple[str, set[str], set[str]]] = {
    ("get", "/v1/models"): ("200", LIST, {"400", "401", "403"}),
    ("post", "/v1/models"): ("201", MODEL, {"400", "401", "403", "409", "413"}),
    ("get", "/v1/models/{name}"): ("200", MODEL, {"400", "401", "403", "404"}),
    ("patch", "/v1/models/{name}"): ("200", MODEL, {"400", "401", "403", "404", "409", "413"}),
    ("get", "/v1/models/{name}/versions"): ("200", {"object", "data"}, {"400", "404"}),
    ("post", "/v1/models/{name}/versions"): ("201", VERSION | {"upload"}, {"400", "404"}),
    ("get", "/v1/models/{name}/versions/{version}"): ("200", VERSION, {"400", "404"}),
    ("patch", "/v1/models/{name}/versions/{version}"): ("200", VERSION, {"400", "404", "413"}),
    ("get", "/v1/models/{name}/versions/{version}/captures"): ("200", {"data"}, {"400", "404"}),
    ("put", "/v1/models/{name}/versions/{version}/baseline"): (
        "200",
        VERSION,
        {"400", "404", "413"},
    ),
    ("get", "/v1/models/{name}/drift"): ("200", {"data"}, {"400", "401", "403", "404"}),
    ("get", "/v2"): ("200", {"name", "version", "extensions"}, {"401", "403"}),
    ("get", "/v2/models/{name}"): ("200", METADATA, {"400", "404"}),
    ("get", "/v2/models/{name}/versions/{version}"): ("200", METADATA, {"400", "404"}),
    ("get", "/v2/models/{name}/ready"): ("200", {"name", "ready"}, {"400", "404"}),
    ("get", "/v2/models/{name}/versions/{version}/ready"): ("200", {"name", "ready"}, {"400"}),
    ("get", "/v2/health/ready"): ("200", {"ready"}, set()),
    ("get", "/v2/health/live"): ("200", {"live"}, set()),
}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    app = FastAPI()
    app.include_router(catalog.router)
    app.include_router(oip.router)
    return app.openapi()


def schema_of(openapi: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The response's JSON schema, its ``$ref`` followed."""
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    name = schema["$ref"].removeprefix("#/components/schemas/")
    found: dict[str, Any] = openapi["components"]["schemas"][name]
    return found


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_each_route_documents_its_body_and_its_errors(
    openapi: dict[str, Any], route: tuple[str, str]
) -> None:
    success, properties, errors = ROUTES[route]
    responses = openapi["paths"][route[1]][route[0]]["responses"]
    body = schema_of(openapi, responses[success])
    assert set(body["properties"]) == properties
    assert set(body["required"]) == properties  # every field is always sent
    assert errors <= set(responses)
    assert "422" not in responses  # validation errors are answered with 400
    error_shape = "OipError" if route[1].startswith("/v2") else "Error"
    for status in errors:
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{error_shape}"
        }


def test_nested_bodies_are_typed_too(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert set(schemas["TensorSpec"]["properties"]) == {"name", "datatype", "shape"}
    assert set(schemas["ErrorDetail"]["properties"]) == {"code", "message", "param"}
    assert schemas["OipError"]["properties"]["error"]["type"] == "string"
    upload = schemas["Upload"]
    assert set(upload["properties"]) == {"url", "fields", "expires_in", "max_bytes", "tokenizer"}
    assert "tokenizer" not in upload["required"]
    detail = schemas["ModelDetail"]["properties"]["versions"]["items"]
    assert detail == {"$ref": "#/components/schemas/VersionPublic"}
    assert "422" not in str(openapi) and "HTTPValidationError" not in schemas


def test_the_create_body_documents_the_declared_metadata(openapi: dict[str, Any]) -> None:
    body = openapi["paths"]["/v1/models"]["post"]["requestBody"]["content"]["application/json"]
    properties = body["schema"]["properties"]
    assert {"labels", "features", "output", "scores_kind", "preprocessing", "detection"} <= set(
        properties
    )
    assert properties["labels"]["maxItems"] == 10_000 and properties["labels"]["uniqueItems"]


def test_versions_keep_their_wire_format() -> None:
    # Given a version waiting for its upload (no reason, digest or size yet)
    version = ModelVersion(tenant="t", name="m", version=1, status="PENDING_UPLOAD", created_at=5)
    upload = {"url": "https://s3", "fields": {"key": "k"}, "expires_in": 900, "max_bytes": 10}
    # Then its body is public() as it was, nulls included, and no tokenizer form is sent
    assert VersionPublic.model_validate(version.public()).model_dump() == version.public()
    new = NewVersionPublic.model_validate({**version.public(), "upload": upload})
    assert new.model_dump(mode="json") == {**version.public(), "upload": upload}
    # And an embedding model's tokenizer form is sent when there is one
    tokenizer = {"url": "https://s3", "fields": {"key": "tok"}}
    with_tokenizer = {**version.public(), "upload": {**upload, "tokenizer": tokenizer}}
    assert NewVersionPublic.model_validate(with_tokenizer).model_dump() == with_tokenizer


IMAGE = {"name": "digits", "task": "image-classification"}
TEXT = {"name": "minilm", "task": "embedding"}
SIZED = {**IMAGE, "preprocessing": {"height": 8, "width": 8}}


def image(**preprocessing: Any) -> dict[str, Any]:
    """An 8x8 image model's body with more preprocessing settings."""
    return {**IMAGE, "preprocessing": {"height": 8, "width": 8, **preprocessing}}


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "repeated label": ({**SIZED, "labels": ["cat", "cat"]}, "labels"),
    "empty label": ({**SIZED, "labels": ["cat", ""]}, "labels.1"),
    "long label": ({**SIZED, "labels": ["x" * 201]}, "labels.0"),
    "10,001 labels": ({**SIZED, "labels": [str(i) for i in range(10_001)]}, "labels"),
    "repeated feature": ({"name": "tab", "task": "custom", "features": ["a", "a"]}, "features"),
    "long output": ({**SIZED, "output": "o" * 129}, "output"),
    "scores kind": ({**SIZED, "scores_kind": "odds"}, "scores_kind"),
    "unknown task": ({"name": "reg", "task": "regression"}, "task"),
    "detector without detection": (
        {"name": "det", "task": "object-detection", "preprocessing": {"height": 8, "width": 8}},
        "detection",
    ),
    "detection iou over 1": (
        {
            "name": "det",
            "task": "object-detection",
            "preprocessing": {"height": 8, "width": 8},
            "detection": {"format": "yolo", "iou_threshold": 2},
        },
        "detection.iou_threshold",
    ),
    "no image size": (IMAGE, "preprocessing.height"),
    "no image width": ({**IMAGE, "preprocessing": {"height": 8}}, "preprocessing.width"),
    "unknown key": (
        {**SIZED, "preprocessing": {"height": 8, "width": 8, "x": 1}},
        "preprocessing.x",
    ),
    "height 0": ({**IMAGE, "preprocessing": {"height": 0, "width": 8}}, "preprocessing.height"),
    "width 4097": ({**IMAGE, "preprocessing": {"height": 8, "width": 4097}}, "preprocessing.width"),
    "height as text": (
        {**IMAGE, "preprocessing": {"height": "8", "width": 8}},
        "preprocessing.height",
    ),
    "2 channels": (image(channels=2), "preprocessing.channels"),
    "2 means": (image(mean=[0.1, 0.2], channels=3), "preprocessing.mean"),
    "3 means, 1 channel": (image(mean=[0.1, 0.2, 0.3]), "preprocessing.mean"),
    "std 0": (image(std=[0.0]), "preprocessing.std.0"),
    "pixel_max 0": (image(pixel_max=0), "preprocessing.pixel_max"),
    "max_length 8193": (
        {**TEXT, "preprocessing": {"max_length": 8193}},
        "preprocessing.max_length",
    ),
    "max_chars 0": ({**TEXT, "preprocessing": {"max_chars": 0}}, "preprocessing.max_chars"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_declared_metadata_is_refused_naming_the_field(case: str) -> None:
    body, param = BAD[case]
    with pytest.raises(InvalidInput) as refused:
        parse_as(NewModel, body)
    assert refused.value.param == param
    assert refused.value.message.startswith(f"{param}: ")


def test_declared_metadata_reaches_the_service_as_given() -> None:
    body = parse_as(
        NewModel,
        {
            "name": "pets",
            "task": "image-classification",
            "labels": ["cat", "dog"],
            "scores_kind": "logits",
            "preprocessing": {"height": 64, "width": 64, "channels": 3, "mean": [0.5, 0.4, 0.3]},
        },
    )
    args = body.create_args()
    assert args["labels"] == ["cat", "dog"] and args["scores_kind"] == "logits"
    assert args["preprocessing"] == {"height": 64, "width": 64, "channels": 3,
                                     "mean": [0.5, 0.4, 0.3]}  # fmt: skip
    plain = parse_as(NewModel, {"name": "plain", "task": "custom"}).create_args()
    assert plain["labels"] == [] and plain["output"] == "" and plain["preprocessing"] == {}
