"""The native prediction route: ``POST /v1/models/{name}/predict``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.principal import Principal
from aiaas.domain.usage import UsageService
from aiaas.errors import NotFound
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import Predictor, SettingsDep, UsageServiceDep
from aiaas.web.responses import FastJSONResponse
from aiaas.web.serving import (
    PredictionServiceDep,
    inference_headers,
    is_builtin,
    registered_models,
)
from aiaas_runtime import PredictParams

router = APIRouter(prefix="/v1/models", tags=["predict"])

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
        description="texts (embedding), feature rows as arrays or objects (tabular), "
        "base64 PNG/JPEG strings or pixel arrays (image)",
    )
    parameters: PredictParameters = Field(default_factory=PredictParameters)


@router.post("/{name}/predict", openapi_extra=openapi_body(PredictRequest))
async def predict(
    name: ModelName,
    request: Request,
    *,
    caller: Predictor,
    service: PredictionServiceDep,
    usage: UsageServiceDep,
    settings: SettingsDep,
) -> FastJSONResponse:
    """Run a model on a batch of inputs; one output per input, in order."""
    body = parse_as(PredictRequest, await read_json(request, settings.max_body_bytes))
    if not is_builtin(name):
        return _registered(name, body.inputs, body.parameters.version, caller, usage)
    params = PredictParams(top_k=body.parameters.top_k, dimensions=body.parameters.dimensions)
    manifest = service.describe(name)  # unknown models are 404 and not metered
    if body.parameters.version not in (None, int(manifest.version)):
        raise NotFound(f"model {name!r} has no version {body.parameters.version}", param="version")
    usage.consume(caller, name)
    result = service.predict(name, body.inputs, params)
    return FastJSONResponse(
        result.to_dict(),
        headers=inference_headers(result),
    )


def _registered(
    name: str, inputs: list[Any], version: int | None, caller: Principal, usage: UsageService
) -> FastJSONResponse:
    """A catalog model: rows (tabular) or token arrays (text) in, each output's row out."""
    served = registered_models().get(caller, name, version)
    feeds = served.feeds(inputs)
    usage.consume(caller, name)
    started = time.perf_counter()
    outputs = served.run(feeds)
    rows = [{key: value[i].tolist() for key, value in outputs.items()} for i in range(len(inputs))]
    return FastJSONResponse(
        {
            "model": name,
            "version": str(served.version.version),
            "task": "registered",
            "outputs": rows,
        },
        headers={
            "x-model-version": str(served.version.version),
            "x-model-variant": served.variant,
            "x-inference-ms": f"{(time.perf_counter() - started) * 1e3:.2f}",
        },
    )
