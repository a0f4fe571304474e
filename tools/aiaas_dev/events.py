"""API Gateway HTTP API events (payload format 2.0), shaped as Lambda receives them.

The shape follows ``sam local generate-event apigateway http-api-proxy`` and API Gateway's
documented behaviour (the raw request's parts: see `aiaas_dev.payload`); the path and path
parameters are URL-decoded, ``rawQueryString`` left encoded. ``queryStringParameters``,
``pathParameters`` and ``cookies`` are omitted when empty, as API Gateway does; there are no
``stageVariables`` and no ``authentication``. Behind a Lambda authorizer the event carries
``requestContext.authorizer.lambda`` (the authorizer's ``context``, ``null`` without one).

The authorizer's own event (`build_authorizer_event`) is the documented payload 2.0
``REQUEST`` event: the route event's request fields, ``type``, ``routeArn`` and, when the
authorizer has identity sources, ``identitySource``; no body.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from aiaas_dev.cfn import PSEUDO_PARAMETERS
from aiaas_dev.payload import (
    Headers,
    encode_body,
    new_request_id,
    normalize_headers,
    query_parameters,
)
from aiaas_dev.routes import DEFAULT_ROUTE, DEFAULT_STAGE, Match, RouteTable

API_ID = "1234567890"  # what `sam local start-api` puts in requestContext.apiId
ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
REGION = PSEUDO_PARAMETERS["AWS::Region"]

# The fields of a route event the authorizer's event repeats, in the documented order.
_AUTHORIZER_EVENT_FIELDS = (
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "headers",
    "queryStringParameters",
    "requestContext",
    "pathParameters",
    "stageVariables",
)


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
    authorizer_context: Mapping[str, Any] | None = None,
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
        authorizer_context: The ``context`` a Lambda authorizer allowed the request with:
            the event then carries ``requestContext.authorizer.lambda`` (see
            `with_authorizer_context`, which also covers an authorizer without context).

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
    if authorizer_context is not None:
        return with_authorizer_context(event, authorizer_context)
    return event


def with_authorizer_context(
    event: Mapping[str, Any], context: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The event as a Lambda authorizer lets it through: ``requestContext.authorizer.lambda``.

    Args:
        event: A route event (`build_event`).
        context: The authorizer's ``context``; ``None`` when its response had none (API
            Gateway then sends ``"lambda": null``).

    Returns:
        A copy of the event; ``authorizer`` sits after ``apiId`` as in API Gateway's events.
    """
    request_context: dict[str, Any] = {}
    for key, value in event["requestContext"].items():
        if key != "authorizer":
            request_context[key] = value
        if key == "apiId":
            request_context["authorizer"] = {"lambda": None if context is None else dict(context)}
    return {**event, "requestContext": request_context}


def route_arn(event: Mapping[str, Any]) -> str:
    """The ``routeArn`` of a request: ``arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/VERB/PATH``.

    Args:
        event: The route event; the path is ``rawPath`` without the stage prefix.

    Returns:
        The ARN, as API Gateway puts it in an authorizer's event.
    """
    context = event["requestContext"]
    stage = context["stage"]
    path = event["rawPath"]
    if stage != DEFAULT_STAGE and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        path = path[len(stage) + 1 :]
    return (
        f"arn:aws:execute-api:{REGION}:{context['accountId']}:{context['apiId']}/{stage}/"
        f"{context['http']['method']}/{path.lstrip('/')}"
    )


def build_authorizer_event(
    event: Mapping[str, Any], identity_source: Sequence[str] | None = None
) -> dict[str, Any]:
    """The payload 2.0 ``REQUEST`` event API Gateway sends a Lambda authorizer.

    Args:
        event: The route event the request would carry (`build_event`), without authorizer.
        identity_source: The values of the authorizer's identity sources, in their order;
            ``None`` when it has none (``identitySource`` is then left out).

    Returns:
        ``version``, ``type``, ``routeArn``, ``identitySource``, then the route event's
        request fields (no ``body``, no ``isBase64Encoded``).
    """
    authorizer_event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": route_arn(event),
    }
    if identity_source is not None:
        authorizer_event["identitySource"] = list(identity_source)
    for key in _AUTHORIZER_EVENT_FIELDS:
        if key in event:
            authorizer_event[key] = event[key]
    context = {k: v for k, v in event["requestContext"].items() if k != "authorizer"}
    authorizer_event["requestContext"] = context
    return authorizer_event


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
