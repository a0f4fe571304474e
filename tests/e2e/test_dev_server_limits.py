"""The local stack refuses what API Gateway refuses, as JSON, and queues what it accepts
(issue #19 items 15, 16): no HTML page, no dropped connection, nothing refused at 64 clients."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import StackFactory
from tests.e2e.test_dev_server import ECHO_TEMPLATE

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def base_url(local_stack_factory: StackFactory) -> Iterator[str]:
    yield local_stack_factory(ECHO_TEMPLATE)


def raw(base_url: str, request: bytes) -> tuple[int, dict]:
    """Send raw bytes; the status and the JSON body of the answer."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, "Bad Request"),
        (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
         "Bad Request"),
        (b"BREW /echo HTTP/1.1\r\nHost: x\r\n\r\n", 404, "Not Found"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "Request-URI Too Long"),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 11000 + b"\r\n\r\n", 431,
         "Request Header Fields Too Large"),
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "Bad Request"),
    ],
    ids=["content-length", "chunk size", "odd method", "long url", "big header", "garbage"],
)  # fmt: skip
def test_malformed_requests_get_api_gateways_status_as_json(
    base_url: str, request_bytes: bytes, status: int, message: str
) -> None:
    assert raw(base_url, request_bytes) == (status, {"message": message})


def test_64_clients_at_once_are_all_answered(base_url: str) -> None:
    def one(index: int) -> int:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            return client.get(f"/echo?i={index}").status_code

    with ThreadPoolExecutor(max_workers=64) as pool:
        statuses = list(pool.map(one, range(64)))
    assert statuses == [200] * 64
