"""The local stack over real HTTP, on the echo fixture template (not the real app)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import StackFactory, start_stack

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ECHO_TEMPLATE = FIXTURES / "echo_template.yaml"

# A second template made on the fly: one function, a named stage, no $default route.
STAGED_TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: prod
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: {FIXTURES / "echo_app"}
      Handler: app.handler
      Events:
        GetItem:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Method: GET, Path: "/items/{{id}}"}}
"""


@pytest.fixture(scope="module")
def echo(local_stack_factory: StackFactory) -> Iterator[httpx.Client]:
    base_url = local_stack_factory(ECHO_TEMPLATE, env={"ECHO_OVERRIDDEN": "from-cli"})
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def staged(local_stack_factory: StackFactory, tmp_path_factory: pytest.TempPathFactory) -> str:
    template = tmp_path_factory.mktemp("staged") / "template.yaml"
    template.write_text(STAGED_TEMPLATE)
    return local_stack_factory(template, extra_args=["--no-moto"])


def event_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    event: dict[str, Any] = response.json()["event"]
    return event


@pytest.mark.parametrize(
    ("method", "path", "route_key", "params"),
    [
        ("GET", "/items", "GET /items", None),
        ("GET", "/items/42", "GET /items/{id}", {"id": "42"}),
        ("POST", "/items/42", "POST /items/{id}", {"id": "42"}),
        ("GET", "/items/special", "ANY /items/special", None),  # exact beats {id}
        ("DELETE", "/items/special", "ANY /items/special", None),
        ("GET", "/files/a/b/c.txt", "GET /files/{proxy+}", {"proxy": "a/b/c.txt"}),
    ],
)
def test_routes(
    echo: httpx.Client, method: str, path: str, route_key: str, params: dict[str, str] | None
) -> None:
    event = event_of(echo.request(method, path))

    assert event["routeKey"] == route_key
    assert event.get("pathParameters") == params
    assert event["requestContext"]["http"]["method"] == method


def test_query_headers_and_cookies(echo: httpx.Client) -> None:
    response = echo.get(
        "/items?a=1&a=2&b=x%20y",
        headers=[("X-Repeated", "one"), ("X-Repeated", "two"), ("Cookie", "c1=v1; c2=v2")],
    )

    body = response.json()
    event = body["event"]
    assert body["query"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["headers"]["x-repeated"] == "one,two"
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert body["cookies"] == {"c1": "v1", "c2": "v2"}


def test_json_body_travels_as_text(echo: httpx.Client) -> None:
    event_body = echo.post("/items/1", json={"inputs": ["hello world"]}).json()

    assert event_body["event"]["isBase64Encoded"] is False
    assert event_body["body_text"] == '{"inputs":["hello world"]}'


def test_binary_body_and_binary_response(echo: httpx.Client) -> None:
    payload = bytes(range(256)) * 4

    body = echo.post(
        "/items/1", content=payload, headers={"content-type": "application/octet-stream"}
    ).json()

    assert body["event"]["isBase64Encoded"] is True
    assert body["body_sha256"] == hashlib.sha256(payload).hexdigest()
    assert echo.get("/bytes").content == bytes(range(256))


def test_response_cookies_and_multi_value_headers(echo: httpx.Client) -> None:
    assert echo.get("/cookies").headers.get_list("set-cookie") == [
        "first=1; Path=/; SameSite=lax",
        "second=2; Path=/; SameSite=lax",
    ]

    raw = echo.get("/plain/raw")
    assert raw.status_code == 201
    assert raw.headers.get_list("x-multi") == ["a", "b"]
    assert raw.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
    assert raw.content == b"\x00\xffraw"


def test_plain_handler_results_without_status_code(echo: httpx.Client) -> None:
    response = echo.get("/plain/list")
    assert (response.status_code, response.json()) == (200, [1, 2, 3])
    assert response.headers["content-type"] == "application/json"

    default = echo.post("/not/a/route").json()
    assert default["routeKey"] == "$default"
    assert default["function_name"] == "aiaas-local-plain"
    assert default["memory_limit_in_mb"] == "512"


def test_environment_context_and_aws(echo: httpx.Client) -> None:
    body = echo.get("/items").json()

    assert body["env"] == {
        "ECHO_GREETING": "hello",
        "ECHO_REGION": "us-east-1",
        "ECHO_OVERRIDDEN": "from-cli",
        "ECHO_TABLE": "EchoTable",
        "ECHO_API_URL": "https://Api.execute-api.us-east-1.amazonaws.com",
    }
    assert body["context"]["function_name"] == "EchoFunction"
    assert body["context"]["memory_limit_in_mb"] == "256"
    assert echo.get("/plain/aws").json() == {"buckets": ["echo-fixture-bucket"]}  # moto


def test_errors(echo: httpx.Client) -> None:
    boom = echo.get("/plain/boom")
    assert (boom.status_code, boom.json()) == (500, {"message": "Internal Server Error"})

    too_large = echo.post("/items/1", content=b"x" * (7 * 1024 * 1024))
    assert (too_large.status_code, too_large.json()) == (
        413,
        {"message": "Request Entity Too Large"},
    )
    assert echo.get("/items").status_code == 200  # and the server carries on


def test_named_stage(staged: str) -> None:
    with httpx.Client(timeout=10) as client:
        event = event_of(client.get(f"{staged}/items/7"))
        outside = client.get(staged.removesuffix("/prod") + "/items/7")
        unknown = client.get(f"{staged}/nothing")

    assert staged.endswith("/prod")
    assert event["rawPath"] == "/prod/items/7"
    assert event["requestContext"]["stage"] == "prod"
    assert event["pathParameters"] == {"id": "7"}
    for response in (outside, unknown):
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_concurrent_requests(echo: httpx.Client) -> None:
    # Given 24 requests at once over 8 connections, half to each function
    paths = [f"/items/{i}?sleep=0.01" if i % 2 else f"/plain/{i}" for i in range(24)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(echo.get, paths))

    # Then all are answered, and each function ran one request at a time
    assert [response.status_code for response in responses] == [200] * 24
    echoed = [response.json() for response in responses[1::2]]
    assert [body["path"] for body in echoed] == [f"/items/{i}" for i in range(1, 24, 2)]
    assert max(body["peak_in_flight"] for body in echoed) == 1


def test_sigterm_stops_server_and_moto_cleanly(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(STAGED_TEMPLATE)
    stack = start_stack(template)

    stack.stop()  # SIGTERM

    assert stack.process.returncode == 0, stack.output()
    assert "moto at http://127.0.0.1:" in stack.output()
    assert stack.output().rstrip().endswith("aiaas-dev stopped")
