"""Training jobs: ``/v1/training-jobs`` (scope ``training``).

Create a job naming the model to train, the task, the target column and the search; upload
the dataset (CSV with a header row) with the presigned POST the answer carries; poll the job
for its profile, leaderboard, metrics and the catalog version it registered.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope
from aiaas.training.service import TrainingService
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import SettingsDep, require, services_of
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse, page_body
from aiaas.web.schemas.errors import error_responses

router = shaped_router("native", prefix="/v1/training-jobs", tags=["training"])
TrainingCaller = Annotated[Principal, Depends(require(Scope.TRAINING))]
JobId = Annotated[str, Path(pattern=r"^train_[0-9a-f]{24}$")]


async def get_training_service(request: Request) -> TrainingService:
    """The function's training service."""
    return services_of(request).training


Training = Annotated[TrainingService, Depends(get_training_service)]


class CreateTrainingJob(BaseModel):
    """What to train on the dataset you will upload."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$",
        description="the catalog model to create, or to add a version to",
    )  # fmt: skip
    task: Literal["classification", "regression"]
    target: str = Field(min_length=1, max_length=128, description="the target column")
    algorithms: list[str] | None = Field(
        default=None, min_length=1, max_length=6,
        description="random_forest, gradient_boosting (HistGradientBoosting), "
        "logistic_regression (classification), ridge (regression), extra_trees, knn; "
        "default: random_forest, gradient_boosting and the linear model",
    )  # fmt: skip
    param_grid: dict[str, Any] | None = Field(
        default=None,
        description="per algorithm ({'random_forest': {'n_estimators': [100, 200]}}), or one "
        "flat scikit-learn param_grid when 'algorithms' names one",
    )
    cv: int = Field(default=5, ge=2, le=20, description="cross-validation folds")
    metric: str | None = Field(
        default=None,
        description="accuracy (default), f1_macro, roc_auc, log_loss; rmse, mae, r2 (default)",
    )
    test_size: float = Field(default=0.2, ge=0.05, le=0.5, description="held-out share")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    max_runtime_s: int | None = Field(default=None, ge=60, description="stop the search after")
    max_candidates: int | None = Field(
        default=None, ge=1, description="a random search over this many grid points"
    )


@router.post(
    "",
    status_code=202,
    openapi_extra=openapi_body(CreateTrainingJob),
    responses=error_responses(400, 401, 403, 409, 413),
)
async def create_training_job(
    request: Request, caller: TrainingCaller, training: Training, settings: SettingsDep
) -> FastJSONResponse:
    """A job waiting for its dataset; ``upload`` is the presigned POST (url and form fields)."""
    body = parse_as(CreateTrainingJob, await read_json(request, settings.max_body_bytes))
    job, upload = training.create(caller, body.model_dump())
    return FastJSONResponse(job.public() | {"upload": upload}, status_code=202)


@router.get("", responses=error_responses(400, 401, 403))
async def list_training_jobs(
    caller: TrainingCaller,
    training: Training,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """The caller's training jobs, newest first; ``next`` is the cursor of the next page."""
    page, cursor = training.page(caller, limit, after)
    return page_body([job.public() for job in page], cursor)


@router.get("/{job_id}", responses=error_responses(400, 401, 403, 404))
async def get_training_job(
    job_id: JobId, caller: TrainingCaller, training: Training
) -> dict[str, Any]:
    """Status, progress, profile, leaderboard, and on success metrics, feature importance
    and the catalog version it registered."""
    job = training.get(caller, job_id)
    return job.public(training.leaderboard(job))


@router.delete("/{job_id}", responses=error_responses(400, 401, 403, 404, 409))
async def cancel_training_job(
    job_id: JobId, caller: TrainingCaller, training: Training
) -> dict[str, Any]:
    """Cancel a job that has not finished (409 for one that has)."""
    return training.cancel(caller, job_id).public()
