"""Open Inference Protocol (KServe v2) server and model metadata and health.

Errors on these routes are ``{"error": "<message>"}``, as the protocol says; health answers
with the status code and a body (``{"live": true}``) that Triton's and KServe's clients read.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from aiaas.domain.catalog import CatalogService
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.errors import NotFound
from aiaas.web.deps import CatalogDep, ModelReader
from aiaas.web.responses import FastJSONResponse

router = APIRouter(prefix="/v2", tags=["open inference protocol"])
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
SERVER = {"name": "aiaas", "version": "0.1.0", "extensions": []}


@router.get("")
async def server_metadata(caller: ModelReader) -> dict[str, Any]:
    """Server name, version and protocol extensions."""
    return SERVER


@router.get("/health/live")
async def live() -> dict[str, bool]:
    """The server answers."""
    return {"live": True}


@router.get("/health/ready")
async def ready() -> dict[str, bool]:
    """The server accepts requests (serverless: always, when it answers)."""
    return {"ready": True}


def _version(service: CatalogService, model: CatalogModel, number: int | None) -> ModelVersion:
    if number is None:
        if model.default_version is None:
            raise NotFound(f"model {model.name!r} has no ready version", param="version")
        number = model.default_version
    return service.version(model, number)


def _metadata(service: CatalogService, model: CatalogModel, number: int | None) -> dict[str, Any]:
    version = _version(service, model, number)
    ready = [str(v.version) for v in service.versions(model) if v.status == "READY"]
    return {
        "name": model.name,
        "versions": ready if number is None else [str(version.version)],
        "platform": "onnxruntime_onnx",
        "inputs": version.inputs,
        "outputs": version.outputs,
    }


@router.get("/models/{name}")
async def model_metadata(name: Name, caller: ModelReader, service: CatalogDep) -> dict[str, Any]:
    """Tensors of the model's default version, and its ready versions."""
    return _metadata(service, service.resolve(caller, name), None)


@router.get("/models/{name}/versions/{version}")
async def version_metadata(
    name: Name, version: Annotated[int, Path(ge=1)], caller: ModelReader, service: CatalogDep
) -> dict[str, Any]:
    """Tensors of one version."""
    return _metadata(service, service.resolve(caller, name), version)


def _ready(service: CatalogService, model: CatalogModel, number: int | None) -> FastJSONResponse:
    try:
        status = _version(service, model, number).status
    except NotFound as exc:
        return FastJSONResponse({"error": exc.message}, status_code=400)
    if status != "READY":
        return FastJSONResponse({"error": f"model {model.name!r} is {status}"}, status_code=400)
    return FastJSONResponse({"name": model.name, "ready": True})


@router.get("/models/{name}/ready")
async def model_ready(name: Name, caller: ModelReader, service: CatalogDep) -> FastJSONResponse:
    """200 when the default version is ready, 400 otherwise."""
    return _ready(service, service.resolve(caller, name), None)


@router.get("/models/{name}/versions/{version}/ready")
async def version_ready(
    name: Name, version: Annotated[int, Path(ge=1)], caller: ModelReader, service: CatalogDep
) -> FastJSONResponse:
    """200 when that version is ready, 400 otherwise."""
    return _ready(service, service.resolve(caller, name), version)
