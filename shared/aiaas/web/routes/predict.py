"""The native prediction route: ``POST /v1/models/{name}/predict``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.docs import documented
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.schemas.predict import ExplainResponse, PredictResponse
from aiaas.web.serving import PredictCallDep, inference_headers
from aiaas_runtime import PredictParams
from aiaas_runtime.explain import DEFAULT_EVALUATIONS, MAX_EVALUATIONS, ExplainParams

router = shaped_router("native", prefix="/v1/models", tags=["predict"])

ModelName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class PredictParameters(BaseModel):
    """Options that shape the outputs."""

    model_config = ConfigDict(extra="forbid")

    top_k: int | None = Field(default=None, ge=1, description="classes to list (classifiers)")
    dimensions: int | None = Field(default=None, ge=1, description="truncate embeddings")
    min_score: float | None = Field(
        default=None, gt=0, le=1, description="face detection: lowest score returned"
    )
    max_faces: int | None = Field(
        default=None, ge=1, le=100, description="face detection: most faces per image"
    )
    max_objects: int | None = Field(
        default=None, ge=1, le=1000, description="object detection: most objects per image"
    )
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
    params = PredictParams(
        top_k=options.top_k,
        dimensions=options.dimensions,
        min_score=options.min_score,
        max_faces=options.max_faces,
        max_objects=options.max_objects,
    )
    result = call.service.predict(call.caller, name, body.inputs, params, options.version)
    return FastJSONResponse(result.to_dict(), headers=inference_headers(result))


class ExplainParameters(BaseModel):
    """How to explain, and how much it may cost."""

    model_config = ConfigDict(extra="forbid")

    method: str | None = Field(
        default=None, description="shapley (tabular) or occlusion (images, texts)"
    )
    target: str | int | None = Field(
        default=None, description="the class to explain (default: the predicted one)"
    )
    max_evaluations: int = Field(
        default=DEFAULT_EVALUATIONS, ge=1, le=MAX_EVALUATIONS,
        description="model rows one input's explanation may run",
    )  # fmt: skip
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    background: list[Any] | None = Field(
        default=None, min_length=1, max_length=1000,
        description="tabular: rows like the inputs (a trained model uses its training sample)",
    )  # fmt: skip
    compare_to: str | None = Field(
        default=None, min_length=1, max_length=20_000,
        description="embeddings: the text whose cosine similarity is explained",
    )  # fmt: skip
    grid: int = Field(default=8, ge=1, le=32, description="images: occlusion cells per side")
    format: Literal["json", "png"] = Field(
        default="json", description="images: png adds heatmap_png, the grid over the image"
    )
    version: int | None = Field(default=None, ge=1, description="pin a version")


class ExplainRequest(BaseModel):
    """Inputs as ``/predict`` takes them, and how to explain them."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[Any] = Field(min_length=1, max_length=32)
    parameters: ExplainParameters = Field(default_factory=ExplainParameters)


@router.post("/{name}/explain", openapi_extra=openapi_body(ExplainRequest))
@documented(ExplainResponse, error_responses(400, 401, 403, 404, 409, 413, 429, 503))
async def explain(name: ModelName, request: Request, call: PredictCallDep) -> FastJSONResponse:
    """Why the model answered what it did: Shapley values (tabular), an occlusion grid
    (images), token contributions to a class (text classifiers: sentiment) or to a similarity
    (embeddings). Scope ``predict``."""
    body = parse_as(ExplainRequest, await read_json(request, call.max_body_bytes))
    o = body.parameters
    params = ExplainParams(
        method=o.method,
        target=None if o.target is None else str(o.target),
        max_evaluations=o.max_evaluations,
        seed=o.seed,
        background=o.background,
        compare_to=o.compare_to,
        grid=o.grid,
        format=o.format,
    )
    result = call.service.explain(call.caller, name, body.inputs, params, o.version)
    headers = {
        "x-model-version": result.served.version,
        "x-model-variant": result.served.variant,
        "x-explain-ms": f"{result.explain_ms:.2f}",
        "x-model-evaluations": str(result.evaluations),
    }
    return FastJSONResponse(result.to_dict(), headers=headers)


@router.get("/{name}/versions/{version}/explanations")
@documented(ExplainResponse, error_responses(400, 401, 403, 404, 409, 429, 503))
async def global_explanation(
    name: ModelName, version: Annotated[int, Path(ge=1)], call: PredictCallDep
) -> FastJSONResponse:
    """Global explanations of a tabular version: mean absolute Shapley values over its
    background (``shapley``), and a trained model's permutation importance on its held-out
    split (``permutation_importance``). Scope ``predict``."""
    result = call.service.global_explanation(call.caller, name, version)
    return FastJSONResponse(result.to_dict(), headers={"x-explain-ms": f"{result.explain_ms:.2f}"})
