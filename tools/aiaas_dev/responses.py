"""Turn a Lambda result into the HTTP response API Gateway (payload format 2.0) sends.

A result with a ``statusCode`` is taken apart: ``headers``, ``multiValueHeaders``, ``cookies``
(one ``Set-Cookie`` each) and ``body`` (base64-decoded when ``isBase64Encoded``). Any other
JSON value is a 200 ``application/json`` response whose body is that value serialized.
A result API Gateway cannot read raises `MalformedResponseError` (API Gateway answers 500).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# Framing is the server's business, not the function's.
_HOP_BY_HOP = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding"})


class MalformedResponseError(Exception):
    """The function's result is not a valid payload 2.0 response."""


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP response: status, header pairs (repeats allowed) and the raw body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: Iterator[bytes] | None = None  # sent chunk by chunk, as produced, when set

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def json_message(status: int, message: str) -> HttpResponse:
    """API Gateway's own error response: ``{"message": "..."}``.

    Args:
        status: The HTTP status.
        message: ``Not Found``, ``Internal Server Error`` ...

    Returns:
        The response, as ``application/json``.
    """
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpResponse(status, [("content-type", "application/json")], body)


def to_http_response(result: Any) -> HttpResponse:
    """Convert a handler's return value the way API Gateway does for payload 2.0.

    Args:
        result: What the handler returned.

    Returns:
        The HTTP response to send.

    Raises:
        MalformedResponseError: The result cannot be a response (bad status, body not a string,
            bad base64, not JSON-serializable).
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        try:
            body = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            raise MalformedResponseError(f"result is not JSON-serializable: {exc}") from exc
        return HttpResponse(200, [("content-type", "application/json")], body)
    return HttpResponse(
        _status(result["statusCode"]),
        _headers(result),
        _body(result.get("body"), is_base64=bool(result.get("isBase64Encoded"))),
    )


def _status(value: Any) -> int:
    try:
        status = int(value)
    except (TypeError, ValueError):
        status = 0
    if isinstance(value, bool) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {value!r} is not an HTTP status")
    return status


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponseError(f"header value {value!r} is not a string")


def _headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = [(name, _text(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        pairs.extend((name, _text(value)) for value in values)
    pairs.extend(("set-cookie", _text(cookie)) for cookie in result.get("cookies") or [])
    return [(name.lower(), value) for name, value in pairs if name.lower() not in _HOP_BY_HOP]


def _body(body: Any, *, is_base64: bool) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponseError(f"body must be a string, not {type(body).__name__}")
    if not is_base64:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise MalformedResponseError(f"body is not valid base64: {exc}") from exc
