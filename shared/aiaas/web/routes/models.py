"""Model listing (read from the installed manifests; the catalog replaces it later)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from aiaas.auth.scopes import Scope
from aiaas.web.deps import PredictionServiceDep, require
from aiaas_runtime import ModelManifest

router = APIRouter(prefix="/v1/models", tags=["models"])


def model_entry(manifest: ModelManifest) -> dict[str, Any]:
    """One model in OpenAI's list shape (``id``, ``object``...) plus our own fields."""
    created = manifest.extra.get("created_unix", 0)
    return {
        "id": manifest.name,
        "object": "model",
        "created": created,
        "owned_by": "aiaas",
        **manifest.to_dict(),
    }


@router.get("", dependencies=[Depends(require(Scope.MODELS_READ))])
async def list_models(service: PredictionServiceDep) -> dict[str, Any]:
    """List the models this deployment serves."""
    return {"object": "list", "data": [model_entry(m) for m in service.list_models()]}
