"""The native prediction route: ``POST /v1/models/{name}/predict``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.schemas.predict import PredictResponse
from aiaas.web.serving import PredictCallDep, inference_headers
from aiaas_runtime import PredictParams

router = shaped_router("native", prefix="/v1/models", tags=["predict"])

ModelName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class PredictParameters(BaseModel):
    """Options that shape the outputs."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(default=None, ge=1, description="classes to list (classifiers)")
    dimensions: int | None = Field(default=None, ge=1, description="truncate embeddings")
    version: int | None = Field(
        default=None, ge=1, description="pin a version (default: the default)"
    )


class PredictRequest(BaseModel):
    """A batch of inputs for one model."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[Any] = Field(
        min_length=1,
        description="texts or token id arrays (embedding), feature rows as arrays or objects "
        "(tabular), base64 PNG/JPEG strings or pixel arrays (image), rows (custom)",
    )
    parameters: PredictParameters = Field(default_factory=PredictParameters)


@router.post("/{name}/predict", openapi_extra=openapi_body(PredictRequest))
@documented(PredictResponse, error_responses(400, 401, 403, 404, 409, 413, 429, 503))
async def predict(name: ModelName, request: Request, call: PredictCallDep) -> FastJSONResponse:
    """Run a model on a batch of inputs; one output per input, in order."""
    body = parse_as(PredictRequest, await read_json(request, call.max_body_bytes))
    options = body.parameters
    params = PredictParams(top_k=options.top_k, dimensions=options.dimensions)
    result = call.service.predict(call.caller, name, body.inputs, params, options.version)
    return FastJSONResponse(result.to_dict(), headers=inference_headers(result))
