"""Response bodies of the prediction routes, for each function's OpenAPI document.

Routes build their JSON directly (orjson, measured on the hot path) and declare these as
``response_model`` for documentation only; tests check the bodies conform.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """What was wrong."""

    code: str = Field(description="stable machine-readable code (invalid_input, not_found...)")
    message: str = Field(description="a sentence naming the problem")
    param: str | None = Field(default=None, description="the request field at fault")


class NativeError(BaseModel):
    """Native routes' error body."""

    error: ErrorDetail


class OpenAIErrorDetail(ErrorDetail):
    """OpenAI's error object."""

    type: str = Field(description="invalid_request_error, authentication_error...")


class OpenAIError(BaseModel):
    """OpenAI-compatible routes' error body."""

    error: OpenAIErrorDetail


class OipError(BaseModel):
    """Open Inference Protocol routes' error body."""

    error: str


class PredictResponse(BaseModel):
    """One output per input, in order.

    Outputs by task: classifiers ``{label, score, probabilities, top_k}``; embedding models
    ``{embedding}``; custom graphs every output's row by name.
    """

    model: str
    version: str
    task: str
    outputs: list[dict[str, Any]]


class Embedding(BaseModel):
    """One vector: floats, or little-endian float32 in base64."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    """Tokens read."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingsResponse(BaseModel):
    """OpenAI's embeddings response."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


def errors(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the error statuses a route really sends."""
    words = {
        400: "invalid input",
        401: "no valid credential",
        403: "missing scope",
        404: "unknown model or version",
        409: "the version is not READY",
        413: "body too large",
        429: "quota exceeded",
        503: "the model cannot be served right now",
    }
    return {status: {"model": model, "description": words[status]} for status in statuses}
