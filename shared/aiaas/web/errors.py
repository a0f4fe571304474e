"""The one place where errors become HTTP responses: ``{"error": {code, message, param}}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiaas.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    Unauthorized,
    Unavailable,
)
from aiaas.web.responses import FastJSONResponse as JSONResponse

logger = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    PayloadTooLarge: 413,
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    QuotaExceeded: 429,
    Unavailable: 503,
}
# OpenAI's error ``type`` by status: its client maps statuses to exception classes itself.
OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def error_response(
    status: int,
    code: str,
    message: str,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    protocol: str = "native",
) -> JSONResponse:
    """A JSON error body: ``{"error": {code, message, param}}`` (native routes; OpenAI's
    routes add ``type``) or ``{"error": "<message>"}`` (Open Inference Protocol routes)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, "param": param}}
    if protocol == "oip":
        body = {"error": message}
    elif protocol == "openai":
        body["error"]["type"] = OPENAI_TYPES.get(status, "api_error")
    return JSONResponse(body, status_code=status, headers=headers)


def protocol_of(request: Request) -> str:
    """Which error shape the route speaks."""
    path = str(request.scope.get("path", ""))
    if path.startswith("/v2"):
        return "oip"
    return "openai" if path == "/v1/embeddings" else "native"


def status_of(exc: DomainError) -> int:
    """HTTP status for a domain error (the most specific class in the table wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QuotaExceeded) else None
    return error_response(
        status_of(exc), exc.code, exc.message, exc.param, headers, protocol=protocol_of(request)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or None
    message = f"{param or 'request'}: {first['msg']}"
    return error_response(400, "invalid_input", message, param, protocol=protocol_of(request))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(
        exc.status_code, code, str(exc.detail), headers=exc.headers, protocol=protocol_of(request)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "internal error; the request id is in the logs")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into the JSON error shape."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
