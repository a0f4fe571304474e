"""aiaas_dev.server.Gateway: API Gateway's answers without HTTP (404, 413, 500, results)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiaas_dev.invoker import FunctionWorker
from aiaas_dev.routes import Route, RouteTable
from aiaas_dev.server import MAX_PAYLOAD_BYTES, Gateway, HttpRequest
from aiaas_dev.template import load_template

ECHO_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "echo_template.yaml"


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    template = load_template(ECHO_TEMPLATE)
    workers = {name: FunctionWorker(spec) for name, spec in template.functions.items()}
    for worker in workers.values():
        assert worker.start()
    # The fixture template's routes without its $default route, so unknown paths are 404.
    routes = [route for route in template.routes if not route.is_default]
    yield Gateway(RouteTable(routes, template.stage), workers)
    for worker in workers.values():
        worker.stop()


def test_route_to_mangum_handler(gateway: Gateway) -> None:
    response = gateway.handle(
        HttpRequest("POST", "/items/9?x=1", [("content-type", "application/json")], b'{"a":1}')
    )

    assert response.status == 200
    body = json.loads(response.body)
    assert (body["method"], body["path"], body["body_text"]) == ("POST", "/items/9", '{"a":1}')
    assert body["event"]["pathParameters"] == {"id": "9"}
    assert response.header("apigw-requestid")


def test_result_without_status_code(gateway: Gateway) -> None:
    response = gateway.handle(HttpRequest("GET", "/plain/list"))

    assert (response.status, json.loads(response.body)) == (200, [1, 2, 3])
    assert response.header("content-type") == "application/json"


def test_unknown_route_is_404(gateway: Gateway) -> None:
    response = gateway.handle(HttpRequest("GET", "/nowhere"))

    assert (response.status, response.body) == (404, b'{"message":"Not Found"}')


def test_body_over_6_mb_is_413(gateway: Gateway) -> None:
    response = gateway.handle(HttpRequest("POST", "/items/1", [], b"x" * (MAX_PAYLOAD_BYTES + 1)))

    assert (response.status, response.body) == (413, b'{"message":"Request Entity Too Large"}')


def test_event_over_6_mb_after_base64_is_413(gateway: Gateway) -> None:
    body = b"\x00" * (MAX_PAYLOAD_BYTES * 4 // 5)  # fits as bytes, not once base64-encoded

    response = gateway.handle(HttpRequest("POST", "/items/1", [], body))

    assert response.status == 413


def test_handler_error_is_500(gateway: Gateway) -> None:
    response = gateway.handle(HttpRequest("GET", "/plain/boom"))

    assert (response.status, response.body) == (500, b'{"message":"Internal Server Error"}')


def test_stage_prefix() -> None:
    table = RouteTable([Route("GET", "/items", "Fn")], "prod")
    gateway = Gateway(table, {})

    assert gateway.handle(HttpRequest("GET", "/items")).status == 404
