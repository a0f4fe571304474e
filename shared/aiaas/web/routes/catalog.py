"""The model catalog (scopes ``models:read`` and ``models:write``): an OpenAI-compatible list."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from aiaas.domain.catalog import CatalogService
from aiaas.domain.catalog_records import CatalogModel
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import CatalogDep, ModelReader, ModelWriter, SettingsDep, services_of
from aiaas.web.errors import shaped_router
from aiaas.web.schemas.catalog import (
    ModelChanges,
    ModelDetail,
    ModelPublic,
    ModelsPublic,
    NewModel,
    NewVersionPublic,
    VersionPublic,
    VersionsPublic,
)
from aiaas.web.schemas.errors import error_responses

router = shaped_router("native", prefix="/v1/models", tags=["catalog"])
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Version = Annotated[int, Path(ge=1)]
PUBLISH = {403: "The credential lacks the scope, or only an admin may publish a public model"}
READ = error_responses(400, 401, 403, 404)


def entry(service: CatalogService, model: CatalogModel, *, full: bool = False) -> dict[str, Any]:
    """One model as `ModelPublic` (version numbers) or, ``full``, `ModelDetail` (versions)."""
    versions = service.versions(model)
    default = next((v for v in versions if v.version == model.default_version), None)
    return {
        "id": model.name,
        "object": "model",
        "created": model.created_at,
        "owned_by": model.tenant,
        "task": model.task,
        "description": model.description,
        "visibility": model.visibility,
        "runtime": model.runtime,
        "default_version": model.default_version,
        "versions": [v.public() if full else v.version for v in versions],
        "inputs": default.inputs if default else [],
        "outputs": default.outputs if default else [],
        "quality": default.quality if default else {},
        "latency": default.latency if default else {},
        "labels": model.labels,
        "features": model.features,
        "output": model.output,
        "scores_kind": model.scores_kind,
        "preprocessing": model.preprocessing,
        **({"detection": model.detection} if model.detection else {}),
    }


@router.get("", responses=error_responses(400, 401, 403))
async def list_models(
    caller: ModelReader,
    service: CatalogDep,
    task: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    after: str | None = None,
) -> ModelsPublic:
    """Public models and the caller's own, by name; ``after`` pages through them."""
    models = [m for m in service.visible(caller, task) if after is None or m.name > after]
    data = [entry(service, m) for m in models[:limit]]
    return ModelsPublic.model_validate({"data": data, "has_more": len(models) > limit})


@router.post(
    "",
    status_code=201,
    openapi_extra=openapi_body(NewModel),
    responses=error_responses(
        400, 401, 403, 409, 413, notes={**PUBLISH, 409: "The name is taken (or a public one's)"}
    ),
)
async def create_model(
    request: Request, caller: ModelWriter, service: CatalogDep, settings: SettingsDep
) -> ModelPublic:
    """Create a model (versions are uploaded next)."""
    body = parse_as(NewModel, await read_json(request, settings.max_body_bytes))
    model = service.create(caller, **body.create_args())
    return ModelPublic.model_validate(entry(service, model))


@router.get("/{name}", responses=READ)
async def get_model(name: Name, caller: ModelReader, service: CatalogDep) -> ModelDetail:
    """One model with all its versions."""
    return ModelDetail.model_validate(entry(service, service.resolve(caller, name), full=True))


@router.patch(
    "/{name}",
    openapi_extra=openapi_body(ModelChanges),
    responses=error_responses(
        400, 401, 403, 404, 409, 413, notes={**PUBLISH, 409: "The new default is not READY"}
    ),
)
async def update_model(
    name: Name, request: Request, caller: ModelWriter, service: CatalogDep, settings: SettingsDep
) -> ModelDetail:
    """Change the description, visibility or default version."""
    body = parse_as(ModelChanges, await read_json(request, settings.max_body_bytes))
    model = service.update(caller, name, body.model_dump())
    return ModelDetail.model_validate(entry(service, model, full=True))


@router.delete("/{name}", status_code=204, responses=READ)
async def delete_model(name: Name, caller: ModelWriter, service: CatalogDep) -> Response:
    """Stop serving a model; its weights are kept for the retention period."""
    service.delete(caller, name)
    return Response(status_code=204)


@router.get("/{name}/versions", responses=READ)
async def list_versions(name: Name, caller: ModelReader, service: CatalogDep) -> VersionsPublic:
    """A model's versions with status, tensors, quality and latency."""
    model = service.resolve(caller, name)
    return VersionsPublic.model_validate({"data": [v.public() for v in service.versions(model)]})


@router.post("/{name}/versions", status_code=201, responses=READ)
async def new_version(name: Name, caller: ModelWriter, service: CatalogDep) -> NewVersionPublic:
    """Allocate a version and a presigned POST to upload its ONNX file to."""
    version, upload = service.new_version(caller, name)
    return NewVersionPublic.model_validate({**version.public(), "upload": upload})


@router.get("/{name}/versions/{version}", responses=READ)
async def get_version(
    name: Name, version: Version, caller: ModelReader, service: CatalogDep
) -> VersionPublic:
    """One version."""
    return VersionPublic.model_validate(
        service.version(service.resolve(caller, name), version).public()
    )


class Capture(BaseModel):
    """Data capture of a version: the share of your own requests kept (0 turns it off)."""

    model_config = ConfigDict(extra="forbid")

    sample_percent: float = Field(ge=0, le=100)


class VersionChanges(BaseModel):
    """Fields a PATCH of a version may change."""

    model_config = ConfigDict(extra="forbid")

    capture: Capture


@router.patch(
    "/{name}/versions/{version}",
    openapi_extra=openapi_body(VersionChanges),
    responses=error_responses(400, 401, 403, 404, 413),
)
async def update_version(
    *,
    name: Name,
    version: Version,
    request: Request,
    caller: ModelWriter,
    service: CatalogDep,
    settings: SettingsDep,
) -> VersionPublic:
    """Turn data capture on or off: a sample of your tenant's requests to this version and
    their answers, written in batches to your prefix of the weights bucket (30 days)."""
    body = parse_as(VersionChanges, await read_json(request, settings.max_body_bytes))
    updated = service.set_capture(caller, name, version, body.capture.sample_percent)
    return VersionPublic.model_validate(updated.public())


class CaptureFile(BaseModel):
    """One file of captured requests: JSONL of ``{time, model, version, inputs, outputs}``."""

    key: str = Field(description="Its name under the version's captures (day/time-id.jsonl)")
    size: int
    url: str = Field(description="A presigned GET, valid 15 minutes")


class CaptureList(BaseModel):
    """The newest capture files of a version, newest first."""

    data: list[CaptureFile]


@router.get("/{name}/versions/{version}/captures", responses=error_responses(400, 401, 403, 404))
async def list_captures(
    name: Name,
    version: Version,
    caller: ModelReader,
    service: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CaptureList:
    """Your version's captured requests (your own tenant's only), as download links."""
    return CaptureList.model_validate({"data": service.captures(caller, name, version, limit)})


@router.delete("/{name}/versions/{version}", status_code=204, responses=READ)
async def delete_version(
    name: Name, version: Version, caller: ModelWriter, service: CatalogDep
) -> Response:
    """Stop serving one version."""
    service.delete(caller, name, version)
    return Response(status_code=204)


class Background(BaseModel):
    """Rows explanations of the version average over, each as ``/predict`` takes one."""

    model_config = ConfigDict(extra="forbid")

    rows: list[Any] = Field(min_length=1, max_length=1000)


@router.put(
    "/{name}/versions/{version}/background",
    openapi_extra=openapi_body(Background),
    responses=error_responses(400, 401, 403, 404, 413),
)
async def put_background(
    *,
    name: Name,
    version: Version,
    request: Request,
    caller: ModelWriter,
    service: CatalogDep,
    settings: SettingsDep,
) -> VersionPublic:
    """Upload the background of a version's explanations (replaces any before; a model the
    platform trained has its training sample already)."""
    body = parse_as(Background, await read_json(request, settings.max_body_bytes))
    return VersionPublic.model_validate(
        service.put_background(caller, name, version, body.rows).public()
    )


@router.get("/{name}/metrics", responses=READ)
async def model_metrics(
    *,
    name: Name,
    request: Request,
    caller: ModelReader,
    start: Annotated[str | None, Query(max_length=13, description="yyyy-mm-dd[Thh], UTC")] = None,
    end: Annotated[str | None, Query(max_length=13, description="yyyy-mm-dd[Thh], UTC")] = None,
    granularity: Annotated[Literal["hour", "day"], Query()] = "hour",
    version: Annotated[str | None, Query(max_length=12)] = None,
) -> dict[str, Any]:
    """Your tenant's calls of a model you can see: requests, rows, errors by status, latency
    p50/p95/p99 (within ``relative_error``), predicted classes and mean top score
    (classifiers), output mean and std (regressors), input lengths (text); per hour or day.
    Default range: the last 24 hours."""
    now = time.time()
    start = start or time.strftime("%Y-%m-%dT%H", time.gmtime(now - 23 * 3600))
    end = end or time.strftime("%Y-%m-%dT%H", time.gmtime(now))
    metrics = services_of(request).model_metrics
    return metrics.report(
        caller, name, start=start, end=end, granularity=granularity, version=version
    )


class BaselineSource(BaseModel):
    """A version's drift baseline: reference rows (each as ``/predict`` takes one, or texts),
    or its first captured rows (their answers too). Exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    rows: list[Any] | None = Field(default=None, min_length=1, max_length=10_000)
    from_captures: int | None = Field(default=None, ge=1, le=10_000)


@router.put(
    "/{name}/versions/{version}/baseline",
    openapi_extra=openapi_body(BaselineSource),
    responses=error_responses(400, 401, 403, 404, 413),
)
async def put_baseline(
    *,
    name: Name,
    version: Version,
    request: Request,
    caller: ModelWriter,
    settings: SettingsDep,
) -> VersionPublic:
    """Set the baseline the hourly drift job compares this version's captured traffic with
    (replaces any before; a model the platform trained has its training data's already)."""
    body = parse_as(BaselineSource, await read_json(request, settings.max_body_bytes))
    updated = services_of(request).drift.set_baseline(
        caller, name, version, rows=body.rows, from_captures=body.from_captures
    )
    return VersionPublic.model_validate(updated.public())


class VersionDrift(BaseModel):
    """A version's latest drift report (null before its first), with its baseline."""

    version: int
    capture: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    report: dict[str, Any] | None = Field(
        default=None,
        description="window (start, end: epoch seconds), rows, features (each with its "
        "tests and drift), prediction, drifted (feature names), violations (SageMaker "
        "Model Monitor's constraint_violations.json)",
    )


class DriftList(BaseModel):
    """The latest drift report of each version."""

    data: list[VersionDrift]


@router.get("/{name}/drift", responses=READ)
async def model_drift(name: Name, request: Request, caller: ModelReader) -> DriftList:
    """Your model's latest drift report per version (the hourly drift job's, over the
    captured traffic of versions with capture on and a baseline)."""
    return DriftList.model_validate({"data": services_of(request).drift.reports(caller, name)})
