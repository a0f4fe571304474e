"""Named dependencies (``Annotated[..., Depends()]``); tests swap them with overrides."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from aiaas.domain.predictions import PredictionService
from aiaas.settings import Settings, get_settings
from aiaas_runtime import ModelRegistry


@lru_cache(maxsize=1)
def get_registry() -> ModelRegistry:
    """The process-wide model registry: sessions survive warm invocations."""
    settings = get_settings()
    return ModelRegistry(settings.models_dir, threads=settings.inference_threads)


def get_prediction_service() -> PredictionService:
    """Predictions over the process-wide registry."""
    return PredictionService(get_registry())


SettingsDep = Annotated[Settings, Depends(get_settings)]
PredictionServiceDep = Annotated[PredictionService, Depends(get_prediction_service)]
