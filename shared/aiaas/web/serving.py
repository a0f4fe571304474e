"""Dependencies of the routes that run models (PredictFunction).

Apart from ``aiaas.web.deps``: the prediction service imports the inference runtime, which
only the functions with InferenceLayer ship.

The prediction routes take one dependency, `PredictCallDep` (the caller with the ``predict``
scope checked, the prediction service and the body limit), rather than three: FastAPI
solves each dependency per request (~15 µs each, measured in bench/), on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope
from aiaas.serving.predictions import InferResult, PredictionResult, PredictionService
from aiaas.web.deps import principal_of, services_of


@dataclass(frozen=True, slots=True)
class PredictCall:
    """What a prediction route needs: who calls, the service, the body limit."""

    caller: Principal
    service: PredictionService
    max_body_bytes: int


async def predict_call(request: Request) -> PredictCall:
    """The caller (403 without the ``predict`` scope) and the function's prediction service."""
    caller = principal_of(request)
    caller.require(Scope.PREDICT)
    services = services_of(request)
    return PredictCall(caller, services.predictions, services.settings.max_body_bytes)


def inference_headers(result: PredictionResult | InferResult) -> dict[str, str]:
    """What ran and how long it took, on every prediction response."""
    if isinstance(result, PredictionResult):
        rows = len(result.outputs)
    else:
        rows = max((len(v) for v in result.outputs.values() if getattr(v, "ndim", 0)), default=1)
    return {
        "x-model-version": result.served.version,
        "x-model-variant": result.served.variant,
        "x-inference-ms": f"{result.inference_ms:.2f}",
        "x-model-rows": str(rows),
    }


PredictCallDep = Annotated[PredictCall, Depends(predict_call)]
