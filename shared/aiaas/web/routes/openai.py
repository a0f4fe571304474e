"""OpenAI-compatible embeddings: the official client pointed at ``<base>/v1`` works unchanged."""

from __future__ import annotations

import base64
import time
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.principal import Principal
from aiaas.domain.usage import UsageService
from aiaas.errors import InvalidInput
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import Predictor, SettingsDep, UsageServiceDep
from aiaas.web.responses import FastJSONResponse
from aiaas.web.serving import (
    PredictionServiceDep,
    inference_headers,
    is_builtin,
    registered_models,
)
from aiaas_runtime.tasks.base import l2_normalize

router = APIRouter(prefix="/v1", tags=["openai"])

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
async def embeddings(
    request: Request,
    caller: Predictor,
    service: PredictionServiceDep,
    usage: UsageServiceDep,
    settings: SettingsDep,
) -> FastJSONResponse:
    """Embed texts or token arrays (``encoding_format`` float or little-endian float32 base64)."""
    body = parse_as(EmbeddingsRequest, await read_json(request, settings.max_body_bytes))
    inputs = _inputs(body.input)
    if is_builtin(body.model):
        service.describe(body.model)  # unknown models are 404 and not metered
        usage.consume(caller, body.model)
        result = service.embed(body.model, inputs, body.dimensions)
        vectors = [np.asarray(output["embedding"], dtype="<f4") for output in result.outputs]
        tokens, headers = result.tokens, inference_headers(result)
    else:
        vectors, tokens, headers = _registered(body.model, inputs, body.dimensions, caller, usage)
    data = []
    for index, vector in enumerate(vectors):
        encoded = (
            base64.b64encode(vector.tobytes()).decode()
            if body.encoding_format == "base64"
            else vector
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage_doc = {"prompt_tokens": tokens, "total_tokens": tokens}
    return FastJSONResponse(
        {"object": "list", "data": data, "model": body.model, "usage": usage_doc},
        headers=headers,
    )


def _registered(
    name: str,
    inputs: list[str | list[int]],
    dimensions: int | None,
    caller: Principal,
    usage: UsageService,
) -> tuple[list[npt.NDArray[np.float32]], int, dict[str, str]]:
    """A catalog embedding model fed token ids (it ships no tokenizer), on CPU or GPU."""
    served = registered_models().get(caller, name, None)
    if not served.takes_tokens:
        raise InvalidInput(f"model {name!r} is not an embedding model", param="model")
    if any(isinstance(item, str) for item in inputs):
        raise InvalidInput(
            f"model {name!r} has no tokenizer: send token arrays (ids of its vocabulary)",
            param="input",
        )
    feeds = served.token_feeds(inputs)
    usage.consume(caller, name)
    started = time.perf_counter()
    matrix = served.embeddings(served.run(feeds))
    if dimensions is not None:
        if dimensions > matrix.shape[1]:
            raise InvalidInput(
                f"dimensions must be at most {matrix.shape[1]} for {name!r}", param="dimensions"
            )
        matrix = l2_normalize(matrix[:, :dimensions])
    headers = {
        "x-model-version": str(served.version.version),
        "x-model-variant": served.variant,
        "x-inference-ms": f"{(time.perf_counter() - started) * 1e3:.2f}",
    }
    tokens = sum(len(item) for item in inputs)
    return [row.astype("<f4") for row in matrix], tokens, headers
