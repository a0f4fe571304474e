"""Response bodies of the prediction routes, for each function's OpenAPI document.

Routes build their JSON directly (orjson, measured on the hot path) and declare these as
``response_model`` for documentation only. Error bodies are in ``aiaas.web.schemas.errors``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


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


class ExplainResponse(BaseModel):
    """One explanation per input, in order.

    Tabular: ``{prediction, base_value, target, method, attributions: [{feature, value,
    attribution, std_error?}]}`` sorted by magnitude (``base_value + sum == prediction``).
    Images: ``{prediction, target, grid: [[...]], cell_size: [h, w]}``. Text classifiers:
    ``{prediction (the target's log-odds), probability, target, label, tokens: [{text, start,
    end, attribution}]}``. Embeddings: ``{prediction, compare_to, tokens: [...]}``.
    """

    model: str
    version: str
    task: str
    evaluations: int
    explanations: list[dict[str, Any]]
