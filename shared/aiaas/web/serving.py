"""Dependencies of the functions that run models (PredictFunction, CatalogFunction's seeding).

Kept apart from ``aiaas.web.deps``: importing the runtime needs InferenceLayer, which only
these functions have.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aiaas.domain.predictions import PredictionResult, PredictionService
from aiaas.services import get_registry, is_builtin, registered_models

__all__ = [
    "PredictionServiceDep",
    "get_prediction_service",
    "get_registry",
    "inference_headers",
    "is_builtin",
    "registered_models",
]


async def get_prediction_service() -> PredictionService:
    """Predictions over the process-wide registry."""
    return PredictionService(get_registry())


def inference_headers(result: PredictionResult) -> dict[str, str]:
    """What ran and how long it took, on every prediction response."""
    return {
        "x-model-version": result.manifest.version,
        "x-model-variant": result.variant,
        "x-inference-ms": f"{result.inference_ms:.2f}",
    }


PredictionServiceDep = Annotated[PredictionService, Depends(get_prediction_service)]
