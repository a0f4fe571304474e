"""aiaas_dev.responses: Lambda results to HTTP responses, as API Gateway (payload 2.0)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from aiaas_dev.responses import MalformedResponseError, json_message, to_http_response


def test_full_result() -> None:
    response = to_http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Count": 3, "Content-Length": "999"},
            "multiValueHeaders": {"x-multi": ["a", "b"]},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "created",
        }
    )

    assert response.status == 201
    assert response.headers == [
        ("content-type", "text/plain"),
        ("x-count", "3"),
        ("x-multi", "a"),
        ("x-multi", "b"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2"),
    ]  # content-length is the server's to set
    assert response.body == b"created"
    assert response.header("Content-Type") == "text/plain"


def test_base64_body_is_decoded() -> None:
    raw = bytes(range(256))

    response = to_http_response(
        {"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    )

    assert response.body == raw


def test_missing_body_is_empty() -> None:
    response = to_http_response({"statusCode": 204})

    assert (response.status, response.headers, response.body) == (204, [], b"")


@pytest.mark.parametrize(
    "result",
    [{"message": "no statusCode"}, [1, 2, 3], "text", 42, None, {"status": 500}],
)
def test_result_without_status_code_is_a_200_json_body(result: Any) -> None:
    response = to_http_response(result)

    assert response.status == 200
    assert response.headers == [("content-type", "application/json")]
    assert json.loads(response.body) == result


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"statusCode": "nope"}, "not an HTTP status"),
        ({"statusCode": 42}, "not an HTTP status"),
        ({"statusCode": True}, "not an HTTP status"),
        ({"statusCode": 200, "body": {"a": 1}}, "body must be a string"),
        ({"statusCode": 200, "body": "***", "isBase64Encoded": True}, "not valid base64"),
        ({"statusCode": 200, "headers": {"x": ["a"]}}, "not a string"),
        ({"unserializable": object()}, "not JSON-serializable"),
    ],
)
def test_malformed_results(result: Any, message: str) -> None:
    with pytest.raises(MalformedResponseError, match=message):
        to_http_response(result)


def test_gateway_messages() -> None:
    response = json_message(404, "Not Found")

    assert response.status == 404
    assert response.body == b'{"message":"Not Found"}'
    assert response.header("content-type") == "application/json"
