"""API Gateway HTTP API events (payload format 2.0), shaped as Lambda receives them.

The shape follows ``sam local generate-event apigateway http-api-proxy`` and API Gateway's
documented behaviour: headers lower-cased and repeated ones comma-joined; ``Cookie`` headers
moved to ``cookies``; repeated query parameters comma-joined; the path and path parameters
URL-decoded, ``rawQueryString`` left encoded; ``body`` omitted when empty, text as ``str`` for
textual content types and base64 (``isBase64Encoded: true``) for anything else.
``queryStringParameters``, ``pathParameters`` and ``cookies`` are omitted when empty, as API
Gateway does; there are no ``stageVariables``, no ``authorizer`` and no ``authentication``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from aiaas_dev.cfn import PSEUDO_PARAMETERS
from aiaas_dev.routes import DEFAULT_ROUTE, DEFAULT_STAGE, Match, RouteTable

API_ID = "1234567890"  # what `sam local start-api` puts in requestContext.apiId
ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]

# Request bodies of these types reach the function as text; every other type, and a body
# without a Content-Type, arrives base64-encoded.
TEXT_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/javascript",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/graphql",
    }
)

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def is_text_content_type(content_type: str | None) -> bool:
    """Whether a body of this Content-Type travels as text (else base64).

    Args:
        content_type: The Content-Type header value, parameters allowed (``; charset=...``).

    Returns:
        True for ``text/*``, ``*+json``, ``*+xml`` and `TEXT_CONTENT_TYPES`.
    """
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return (
        mime.startswith("text/") or mime.endswith(("+json", "+xml")) or mime in TEXT_CONTENT_TYPES
    )


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """Encode a request body for the event.

    Args:
        body: The raw request body.
        content_type: The request's Content-Type, if any.

    Returns:
        ``(body, isBase64Encoded)``: ``(None, False)`` for an empty body; text for textual
        types that decode as UTF-8; base64 for everything else.
    """
    if not body:
        return None, False
    if is_text_content_type(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def normalize_headers(headers: Headers) -> tuple[dict[str, str], list[str]]:
    """Lower-case header names, comma-join repeats and split out the cookies.

    Args:
        headers: A mapping or ``(name, value)`` pairs, names in any case, repeats allowed.

    Returns:
        ``(headers, cookies)``: every ``Cookie`` header is split at ``;`` into ``cookies``.
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            merged[key] = f"{merged[key]},{value}" if key in merged else value
    return merged, cookies


def query_parameters(raw_query_string: str) -> dict[str, str]:
    """Decode a query string; repeated parameters are comma-joined (``a=1&a=2`` -> ``1,2``)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query_string, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def new_request_id() -> str:
    """A request ID shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def build_event(
    method: str,
    raw_path: str,
    *,
    raw_query_string: str = "",
    headers: Headers = (),
    body: bytes = b"",
    route_key: str = DEFAULT_ROUTE,
    path_parameters: Mapping[str, str] | None = None,
    stage: str = DEFAULT_STAGE,
    source_ip: str = "127.0.0.1",
    protocol: str = "HTTP/1.1",
    request_id: str | None = None,
    time_epoch_ms: int | None = None,
) -> dict[str, Any]:
    """Build an HTTP API payload 2.0 event.

    Args:
        method: The HTTP method.
        raw_path: The request path as sent, with the stage prefix for a named stage.
        raw_query_string: The query string as sent, without ``?``.
        headers: Request headers (see `normalize_headers`).
        body: The raw request body (see `encode_body`).
        route_key: ``"POST /v1/models/{name}/predict"`` or ``"$default"``.
        path_parameters: The matched route's parameters, already decoded.
        stage: The stage name for ``requestContext.stage``.
        source_ip: The client address.
        protocol: The request's HTTP version.
        request_id: ``requestContext.requestId``; a new one if not given.
        time_epoch_ms: The request time; now if not given.

    Returns:
        The event, JSON-serializable.
    """
    header_map, cookies = normalize_headers(headers)
    encoded, is_base64 = encode_body(body, header_map.get("content-type"))
    path = unquote(raw_path)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = header_map
    query = query_parameters(raw_query_string)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = _request_context(
        header_map,
        {"method": method, "path": path, "protocol": protocol, "sourceIp": source_ip},
        route_key=route_key,
        stage=stage,
        request_id=request_id or new_request_id(),
        epoch_ms=int(time.time() * 1000) if time_epoch_ms is None else time_epoch_ms,
    )
    if encoded is not None:
        event["body"] = encoded
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = is_base64
    return event


def _request_context(
    headers: Mapping[str, str],
    http: dict[str, str],
    *,
    route_key: str,
    stage: str,
    request_id: str,
    epoch_ms: int,
) -> dict[str, Any]:
    host = headers.get("host", "localhost").rsplit(":", 1)[0]
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {**http, "userAgent": headers.get("user-agent", "")},
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": epoch_ms,
    }


def _forwarded(headers: Headers, source_ip: str, port: int, scheme: str) -> list[tuple[str, str]]:
    """Add ``x-forwarded-for`` (appending the client), ``-port`` and ``-proto``."""
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    forwarded = {name.lower(): value for name, value in pairs}.get("x-forwarded-for")
    pairs = [(name, value) for name, value in pairs if name.lower() != "x-forwarded-for"]
    return [
        *pairs,
        ("x-forwarded-for", f"{forwarded}, {source_ip}" if forwarded else source_ip),
        ("x-forwarded-port", str(port)),
        ("x-forwarded-proto", scheme),
    ]


def event_for_request(
    table: RouteTable,
    method: str,
    target: str,
    *,
    headers: Headers = (),
    body: bytes = b"",
    source_ip: str = "127.0.0.1",
    server_port: int = 3000,
    scheme: str = "http",
    protocol: str = "HTTP/1.1",
    request_id: str | None = None,
) -> tuple[Match, dict[str, Any]] | None:
    """Route a request and build its event, as API Gateway would for this route table.

    Args:
        table: The routes and stage.
        method: The HTTP method.
        target: The request target as sent: path (with the stage prefix) and query string.
        headers: Request headers; ``x-forwarded-for/-port/-proto`` are added as API Gateway does.
        body: The raw request body.
        source_ip: The client address.
        server_port: The port the client connected to (``x-forwarded-port``).
        scheme: ``http`` or ``https`` (``x-forwarded-proto``).
        protocol: The request's HTTP version.
        request_id: ``requestContext.requestId``; a new one if not given.

    Returns:
        ``(match, event)``, or ``None`` when no route matches.
    """
    raw_path, _, raw_query = target.partition("?")
    match = table.match(method.upper(), raw_path)
    if match is None:
        return None
    event = build_event(
        method.upper(),
        raw_path,
        raw_query_string=raw_query,
        headers=_forwarded(headers, source_ip, server_port, scheme),
        body=body,
        route_key=match.route.route_key,
        path_parameters=match.path_parameters,
        stage=table.stage,
        source_ip=source_ip,
        protocol=protocol,
        request_id=request_id,
    )
    return match, event
