"""aiaas_dev.events: HTTP API payload 2.0 events, checked against SAM's reference event."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from aiaas_dev.events import build_event, event_for_request
from aiaas_dev.payload import encode_body, is_text_content_type
from aiaas_dev.routes import Route, RouteTable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# `sam local generate-event apigateway http-api-proxy` (SAM CLI 1.170), captured as is.
SAM_EVENT: dict[str, Any] = json.loads((FIXTURES / "sam_http_api_proxy_event.json").read_text())
# What API Gateway leaves out when there is nothing to put in (no stage variables, no
# authorizer, no mutual TLS), so our events never carry them.
NOT_SENT = {"stageVariables"}
NOT_SENT_IN_CONTEXT = {"authentication", "authorizer"}


def full_event() -> dict[str, Any]:
    """An event with every optional part present: cookies, query, path parameters, body."""
    return build_event(
        "POST",
        "/v1/models/minilm/predict",
        raw_query_string="a=1&a=2&b=x%20y",
        headers=[
            ("Content-Type", "application/json"),
            ("X-Repeated", "one"),
            ("x-repeated", "two"),
            ("Cookie", "c1=v1; c2=v2"),
            ("User-Agent", "pytest"),
            ("Host", "127.0.0.1:3000"),
        ],
        body=b'{"inputs": ["hello"]}',
        route_key="POST /v1/models/{name}/predict",
        path_parameters={"name": "minilm"},
        request_id="req-1",
        time_epoch_ms=1_583_348_638_390,
    )


def types_of(value: dict[str, Any]) -> dict[str, type]:
    return {key: type(item) for key, item in value.items()}


def test_event_has_the_keys_and_types_of_sams_reference_event() -> None:
    event = full_event()

    assert set(event) == set(SAM_EVENT) - NOT_SENT
    assert types_of(event) == {k: v for k, v in types_of(SAM_EVENT).items() if k not in NOT_SENT}
    context, sam_context = event["requestContext"], SAM_EVENT["requestContext"]
    assert set(context) == set(sam_context) - NOT_SENT_IN_CONTEXT
    assert types_of(context) == {
        k: v for k, v in types_of(sam_context).items() if k not in NOT_SENT_IN_CONTEXT
    }
    assert types_of(context["http"]) == types_of(sam_context["http"])


def test_event_values() -> None:
    event = full_event()

    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"]
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"] == {
        "content-type": "application/json",
        "x-repeated": "one,two",
        "user-agent": "pytest",
        "host": "127.0.0.1:3000",
    }
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["pathParameters"] == {"name": "minilm"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"inputs": ["hello"]}', False)
    context = event["requestContext"]
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert context["timeEpoch"] == 1_583_348_638_390
    assert (context["stage"], context["requestId"]) == ("$default", "req-1")
    assert (context["domainName"], context["domainPrefix"]) == ("127.0.0.1", "127")
    assert context["http"]["userAgent"] == "pytest"
    json.dumps(event)  # serializable as Lambda needs it


def test_optional_parts_are_omitted_when_empty() -> None:
    event = build_event("GET", "/v1/models")

    assert not {"body", "cookies", "queryStringParameters", "pathParameters"} & set(event)
    assert event["isBase64Encoded"] is False
    assert event["headers"] == {}


@pytest.mark.parametrize(
    ("content_type", "textual"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("text/plain", True),
        ("text/csv", True),
        ("application/vnd.api+json", True),
        ("application/atom+xml", True),
        ("application/xml", True),
        ("application/octet-stream", False),
        ("image/png", False),
        ("application/x-www-form-urlencoded", False),
        ("", False),
        (None, False),
    ],
)
def test_textual_content_types(content_type: str | None, textual: bool) -> None:
    assert is_text_content_type(content_type) is textual


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", "application/json", (None, False)),
        (b'{"a": "\xc3\xa9"}', "application/json", ('{"a": "\u00e9"}', False)),
        (b"plain", "text/plain", ("plain", False)),
        (b"\x00\xff", "application/octet-stream", (base64.b64encode(b"\x00\xff").decode(), True)),
        (b"\xff\xfe", "application/json", (base64.b64encode(b"\xff\xfe").decode(), True)),
        (b'{"a": 1}', None, (base64.b64encode(b'{"a": 1}').decode(), True)),
    ],
)
def test_body_encoding(body: bytes, content_type: str | None, expected: object) -> None:
    assert encode_body(body, content_type) == expected


def test_event_for_request_routes_and_adds_forwarding_headers() -> None:
    table = RouteTable([Route("POST", "/v1/models/{name}/predict", "Predict")], "prod")

    routed = event_for_request(
        table,
        "post",
        "/prod/v1/models/all-minilm-l6-v2/predict?verbose=1",
        headers={"X-Forwarded-For": "10.0.0.1", "content-type": "image/png"},
        body=b"\x89PNG",
        source_ip="127.0.0.1",
        server_port=3000,
    )

    assert routed is not None
    match, event = routed
    assert match.route.function == "Predict"
    assert event["routeKey"] == "POST /v1/models/{name}/predict"
    assert event["rawPath"] == "/prod/v1/models/all-minilm-l6-v2/predict"  # with the stage
    assert event["requestContext"]["stage"] == "prod"
    assert event["pathParameters"] == {"name": "all-minilm-l6-v2"}
    assert event["queryStringParameters"] == {"verbose": "1"}
    assert event["headers"]["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert event["headers"]["x-forwarded-port"] == "3000"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert base64.b64decode(event["body"]) == b"\x89PNG"
    assert event["isBase64Encoded"] is True
    assert event_for_request(table, "GET", "/prod/v1/models/x/predict") is None


def test_raw_path_is_decoded_and_raw_query_string_is_not() -> None:
    table = RouteTable([Route("GET", "/files/{proxy+}", "Files")])

    routed = event_for_request(table, "GET", "/files/a%20b/c.txt?q=a%20b")

    assert routed is not None
    _, event = routed
    assert event["rawPath"] == "/files/a b/c.txt"
    assert event["pathParameters"] == {"proxy": "a b/c.txt"}
    assert event["rawQueryString"] == "q=a%20b"
    assert event["queryStringParameters"] == {"q": "a b"}
