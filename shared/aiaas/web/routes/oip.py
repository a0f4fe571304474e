"""Open Inference Protocol (KServe v2) server and model metadata and health.

Errors on these routes are ``{"error": "<message>"}``, as the protocol says; health answers
with the status code and a body (``{"live": true}``) that Triton's and KServe's clients read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from aiaas.domain.catalog import CatalogService
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.errors import InvalidInput, NotFound
from aiaas.web.deps import CatalogDep, ModelReader
from aiaas.web.errors import shaped_router
from aiaas.web.schemas.catalog import (
    Live,
    ModelMetadata,
    ModelReady,
    Ready,
    ServerMetadata,
)
from aiaas.web.schemas.errors import error_responses

router = shaped_router("oip", prefix="/v2", tags=["open inference protocol"])
Name = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
VersionNumber = Annotated[int, Path(ge=1)]
SERVER = ServerMetadata(name="aiaas", version="0.1.0", extensions=[])
METADATA = error_responses(400, 401, 403, 404, shape="oip")
READINESS = error_responses(
    400, 401, 403, 404, notes={400: "Not READY, or an invalid name or version"}, shape="oip"
)


@router.get("", responses=error_responses(401, 403, shape="oip"))
async def server_metadata(caller: ModelReader) -> ServerMetadata:
    """Server name, version and protocol extensions."""
    return SERVER


@router.get("/health/live")
async def live() -> Live:
    """The server answers."""
    return Live(live=True)


@router.get("/health/ready")
async def ready() -> Ready:
    """The server accepts requests (serverless: always, when it answers)."""
    return Ready(ready=True)


def _version(service: CatalogService, model: CatalogModel, number: int | None) -> ModelVersion:
    if number is None:
        if model.default_version is None:
            raise NotFound(f"model {model.name!r} has no ready version", param="version")
        number = model.default_version
    return service.version(model, number)


def _metadata(service: CatalogService, model: CatalogModel, number: int | None) -> ModelMetadata:
    version = _version(service, model, number)
    ready = [str(v.version) for v in service.versions(model) if v.status == "READY"]
    return ModelMetadata.model_validate(
        {
            "name": model.name,
            "versions": ready if number is None else [str(version.version)],
            "platform": "onnxruntime_onnx",
            "inputs": version.inputs,
            "outputs": version.outputs,
        }
    )


@router.get("/models/{name}", responses=METADATA)
async def model_metadata(name: Name, caller: ModelReader, service: CatalogDep) -> ModelMetadata:
    """Tensors of the model's default version, and its ready versions."""
    return _metadata(service, service.resolve(caller, name), None)


@router.get("/models/{name}/versions/{version}", responses=METADATA)
async def version_metadata(
    name: Name, version: VersionNumber, caller: ModelReader, service: CatalogDep
) -> ModelMetadata:
    """Tensors of one version."""
    return _metadata(service, service.resolve(caller, name), version)


def _ready(service: CatalogService, model: CatalogModel, number: int | None) -> ModelReady:
    """READY, or InvalidInput: the protocol answers 400 for a model that is not ready."""
    try:
        status = _version(service, model, number).status
    except NotFound as exc:
        raise InvalidInput(exc.message, param=exc.param) from exc
    if status != "READY":
        raise InvalidInput(f"model {model.name!r} is {status}", param="version")
    return ModelReady(name=model.name, ready=True)


@router.get("/models/{name}/ready", responses=READINESS)
async def model_ready(name: Name, caller: ModelReader, service: CatalogDep) -> ModelReady:
    """200 when the default version is ready, 400 otherwise."""
    return _ready(service, service.resolve(caller, name), None)


@router.get("/models/{name}/versions/{version}/ready", responses=READINESS)
async def version_ready(
    name: Name, version: VersionNumber, caller: ModelReader, service: CatalogDep
) -> ModelReady:
    """200 when that version is ready, 400 otherwise."""
    return _ready(service, service.resolve(caller, name), version)
