"""Error bodies of every route, in their three shapes, and the ``responses=`` that document
them (``aiaas.web.errors`` renders them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from aiaas.web.errors import ErrorShape


class ErrorDetail(BaseModel):
    """What went wrong; ``param`` names the field at fault, when there is one."""

    code: str = Field(examples=["not_found"], description="stable machine-readable code")
    message: str = Field(description="a sentence naming the problem")
    param: str | None = Field(description="the request field at fault")


class Error(BaseModel):
    """The error body of the native routes."""

    error: ErrorDetail


class OpenAIErrorDetail(ErrorDetail):
    """OpenAI's error object."""

    type: str = Field(description="invalid_request_error, authentication_error...")


class OpenAIError(BaseModel):
    """The error body of the OpenAI-compatible routes."""

    error: OpenAIErrorDetail


class OipError(BaseModel):
    """The error body of the Open Inference Protocol routes."""

    error: str


BODIES: dict[ErrorShape, type[BaseModel]] = {
    "native": Error,
    "openai": OpenAIError,
    "oip": OipError,
}
STATUSES = {
    400: "Invalid request; the message (and `param`) names the field",
    401: "No credential",
    403: "The credential lacks the scope",
    404: "No such model or version (visible to the caller)",
    409: "Conflict with the model's current state",
    413: "The request body is over the size limit",
    429: "Quota exceeded (Retry-After says when to retry)",
    503: "The model cannot be served right now",
}


def error_responses(
    *statuses: int, notes: Mapping[int, str] | None = None, shape: ErrorShape = "native"
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the error statuses a route sends, and the rest as ``default``.

    The ``default`` entry (500, or 503 when AWS fails) also stops FastAPI adding a 422: the
    API answers validation errors with 400.
    """
    body = BODIES[shape]
    said = {**STATUSES, **(notes or {})}
    documented: dict[int | str, dict[str, Any]] = {
        status: {"model": body, "description": said[status]} for status in statuses
    }
    documented["default"] = {"model": body, "description": "Unexpected error (500, 503)"}
    return documented
