"""OpenAI-compatible embeddings: the official client pointed at ``<base>/v1`` works unchanged."""

from __future__ import annotations

import base64
from typing import Annotated, Literal

import numpy as np
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.schemas.predict import EmbeddingsResponse
from aiaas.web.serving import PredictCallDep, inference_headers

router = shaped_router("openai", prefix="/v1", tags=["openai"])

TokenIds = Annotated[list[int], Field(min_length=1)]


class EmbeddingsRequest(BaseModel):
    """OpenAI's embeddings request (``user`` is accepted and ignored)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=64)
    input: str | list[str] | TokenIds | list[TokenIds]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    user: str | None = None


def _inputs(value: str | list[str] | list[int] | list[list[int]]) -> list[str | list[int]]:
    """One string, a list of strings, one token array, or a list of token arrays."""
    if isinstance(value, str):
        return [value]
    if value and all(isinstance(v, int) for v in value):
        return [list(value)]  # type: ignore[arg-type]  # one token array
    return list(value)  # type: ignore[arg-type]


@router.post("/embeddings", openapi_extra=openapi_body(EmbeddingsRequest))
@documented(
    EmbeddingsResponse,
    error_responses(400, 401, 403, 404, 409, 413, 429, 503, shape="openai"),
)
async def embeddings(request: Request, call: PredictCallDep) -> FastJSONResponse:
    """Embed texts or token arrays (``encoding_format`` float or little-endian float32 base64)."""
    body = parse_as(EmbeddingsRequest, await read_json(request, call.max_body_bytes))
    result = call.service.embed(call.caller, body.model, _inputs(body.input), body.dimensions)
    data = []
    for index, output in enumerate(result.outputs):
        vector = np.asarray(output["embedding"], dtype="<f4")
        encoded = (
            base64.b64encode(vector.tobytes()).decode()
            if body.encoding_format == "base64"
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage = {"prompt_tokens": result.tokens, "total_tokens": result.tokens}
    return FastJSONResponse(
        {"object": "list", "data": data, "model": body.model, "usage": usage},
        headers=inference_headers(result),
    )
