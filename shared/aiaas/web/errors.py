"""The one place where errors become HTTP responses.

Each router declares its error shape (`shaped_router`): native routes answer
``{"error": {code, message, param}}``, OpenAI-compatible ones add ``type``, Open Inference
Protocol ones answer ``{"error": "<message>"}``. Unexpected errors (500) keep the shape too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from aiaas.aws.lite import set_deadline
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
ErrorShape = Literal["native", "oip", "openai"]

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
    protocol: ErrorShape = "native",
) -> JSONResponse:
    """A JSON error body: ``{"error": {code, message, param}}`` (native routes; OpenAI's
    routes add ``type``) or ``{"error": "<message>"}`` (Open Inference Protocol routes)."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, "param": param}}
    if protocol == "oip":
        body = {"error": message}
    elif protocol == "openai":
        body["error"]["type"] = OPENAI_TYPES.get(status, "api_error")
    # the code in a header too: clients and the request metrics (aiaas.web.observe) read it
    return JSONResponse(body, status_code=status, headers={**(headers or {}), "x-error-code": code})


def status_of(exc: DomainError) -> int:
    """HTTP status for a domain error (the most specific class in the table wins)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def response_for(exc: Exception, shape: ErrorShape, request: Request | None = None) -> JSONResponse:
    """The JSON error response for any exception, in one error shape."""
    if isinstance(exc, DomainError):
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return error_response(
            status_of(exc), exc.code, exc.message, exc.param, headers, protocol=shape
        )
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or None
        message = f"{param or 'request'}: {first['msg']}"
        return error_response(400, "invalid_input", message, param, protocol=shape)
    if isinstance(exc, StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(
            exc.status_code, code, str(exc.detail), headers=exc.headers, protocol=shape
        )
    where = f" on {request.method} {request.url.path}" if request is not None else ""
    logger.error("unhandled error%s", where, exc_info=exc)
    return error_response(
        500, "internal_error", "internal error; the request id is in the logs", protocol=shape
    )


class _ShapedRoute(APIRoute):
    """A route that answers every error of its own (dependencies and validation included)
    in its router's error shape."""

    shape: ClassVar[ErrorShape] = "native"

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        shape = self.shape

        async def shaped(request: Request) -> Response:
            set_deadline(request.scope.get("aws.context"))
            try:
                return await handler(request)
            except Exception as exc:  # every error leaves as JSON in the route's shape
                return response_for(exc, shape, request)

        return shaped


ROUTE_CLASSES: dict[ErrorShape, type[APIRoute]] = {
    shape: type(f"{shape.title()}Route", (_ShapedRoute,), {"shape": shape})
    for shape in ("native", "oip", "openai")
}


def shaped_router(shape: ErrorShape, **kwargs: Any) -> APIRouter:
    """A router whose routes answer errors in ``shape``: ``native``
    (``{"error": {code, message, param}}``), ``openai`` (the same plus ``type``) or ``oip``
    (``{"error": "<message>"}``)."""
    return APIRouter(route_class=ROUTE_CLASSES[shape], **kwargs)


def install_error_handlers(app: FastAPI, shape: ErrorShape = "native") -> None:
    """App-level handlers for what reaches no route (unknown paths, methods), in ``shape``."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return response_for(exc, shape, request)

    for kind in (DomainError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handle)
