"""The model catalog (scopes ``models:read`` and ``models:write``): an OpenAI-compatible list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from aiaas.domain.catalog import CatalogService
from aiaas.domain.catalog_records import CatalogModel
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import CatalogDep, ModelReader, ModelWriter, SettingsDep
from aiaas.web.responses import FastJSONResponse

router = APIRouter(prefix="/v1/models", tags=["catalog"])
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Version = Annotated[int, Path(ge=1)]


class NewModel(BaseModel):
    """A model to create in the caller's namespace."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=3, max_length=64)
    task: Literal["embedding", "tabular-classification", "image-classification", "custom"]
    description: str = Field(default="", max_length=500)
    visibility: Literal["private", "public"] = "private"
    runtime: Literal["cpu", "gpu"] = "cpu"


class ModelChanges(BaseModel):
    """Fields a PATCH may change."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=500)
    visibility: Literal["private", "public"] | None = None
    default_version: int | None = Field(default=None, ge=1)


def entry(service: CatalogService, model: CatalogModel, *, full: bool = False) -> dict[str, Any]:
    """One model in OpenAI's list shape (``id``, ``object``, ``created``, ``owned_by``) + ours."""
    versions = service.versions(model)
    default = next((v for v in versions if v.version == model.default_version), None)
    data: dict[str, Any] = {
        "id": model.name,
        "object": "model",
        "created": model.created_at,
        "owned_by": model.tenant,
        "task": model.task,
        "description": model.description,
        "visibility": model.visibility,
        "runtime": model.runtime,
        "default_version": model.default_version,
        "versions": [v.version for v in versions],
        "inputs": default.inputs if default else [],
        "outputs": default.outputs if default else [],
        "quality": default.quality if default else {},
        "latency": default.latency if default else {},
    }
    if full:
        data["versions"] = [v.public() for v in versions]
    return data


@router.get("")
async def list_models(
    caller: ModelReader,
    service: CatalogDep,
    task: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
    after: str | None = None,
) -> dict[str, Any]:
    """Public models and the caller's own, by name; ``after`` pages through them."""
    models = [m for m in service.visible(caller, task) if after is None or m.name > after]
    page = models[:limit]
    return {
        "object": "list",
        "data": [entry(service, m) for m in page],
        "has_more": len(models) > limit,
    }


@router.post("", status_code=201, openapi_extra=openapi_body(NewModel))
async def create_model(
    request: Request, caller: ModelWriter, service: CatalogDep, settings: SettingsDep
) -> FastJSONResponse:
    """Create a model (versions are uploaded next)."""
    body = parse_as(NewModel, await read_json(request, settings.max_body_bytes))
    model = service.create(caller, **body.model_dump())
    return FastJSONResponse(entry(service, model), status_code=201)


@router.get("/{name}")
async def get_model(name: Name, caller: ModelReader, service: CatalogDep) -> dict[str, Any]:
    """One model with all its versions."""
    return entry(service, service.resolve(caller, name), full=True)


@router.patch("/{name}", openapi_extra=openapi_body(ModelChanges))
async def update_model(
    name: Name, request: Request, caller: ModelWriter, service: CatalogDep, settings: SettingsDep
) -> dict[str, Any]:
    """Change the description, visibility or default version."""
    body = parse_as(ModelChanges, await read_json(request, settings.max_body_bytes))
    return entry(service, service.update(caller, name, body.model_dump()), full=True)


@router.delete("/{name}", status_code=204)
async def delete_model(name: Name, caller: ModelWriter, service: CatalogDep) -> Response:
    """Stop serving a model; its weights are kept for the retention period."""
    service.delete(caller, name)
    return Response(status_code=204)


@router.get("/{name}/versions")
async def list_versions(name: Name, caller: ModelReader, service: CatalogDep) -> dict[str, Any]:
    """A model's versions with status, tensors, quality and latency."""
    model = service.resolve(caller, name)
    return {"object": "list", "data": [v.public() for v in service.versions(model)]}


@router.post("/{name}/versions", status_code=201)
async def new_version(name: Name, caller: ModelWriter, service: CatalogDep) -> FastJSONResponse:
    """Allocate a version and a presigned POST to upload its ONNX file to."""
    version, upload = service.new_version(caller, name)
    return FastJSONResponse({**version.public(), "upload": upload}, status_code=201)


@router.get("/{name}/versions/{version}")
async def get_version(
    name: Name, version: Version, caller: ModelReader, service: CatalogDep
) -> dict[str, Any]:
    """One version."""
    return service.version(service.resolve(caller, name), version).public()


@router.delete("/{name}/versions/{version}", status_code=204)
async def delete_version(
    name: Name, version: Version, caller: ModelWriter, service: CatalogDep
) -> Response:
    """Stop serving one version."""
    service.delete(caller, name, version)
    return Response(status_code=204)
