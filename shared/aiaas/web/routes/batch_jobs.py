"""Batch jobs: ``/v1/batch-jobs`` (scope ``batch``).

Create a job, upload its input with the presigned POST the answer carries, then poll the job
until it finishes and download the output by its link. Inputs are JSONL (``{"id", "input"}``
per line) or, for tabular models, CSV.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope
from aiaas.batch.jobs import JobService
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import SettingsDep, require, services_of
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse, page_body
from aiaas.web.schemas.errors import error_responses

router = shaped_router("native", prefix="/v1/batch-jobs", tags=["batch"])
BatchCaller = Annotated[Principal, Depends(require(Scope.BATCH))]
JobId = Annotated[str, Path(pattern=r"^batch_[0-9a-f]{24}$")]


async def get_job_service(request: Request) -> JobService:
    """The function's jobs service."""
    return services_of(request).jobs


Jobs = Annotated[JobService, Depends(get_job_service)]


class CreateJob(BaseModel):
    """What to run on the file you will upload."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    version: int | None = Field(default=None, ge=1, description="default: the default version")
    input_format: Literal["jsonl", "csv"] = "jsonl"
    explain: bool = Field(
        default=False, description="each output row also carries its explanation (tabular, images)"
    )


@router.post(
    "",
    status_code=201,
    openapi_extra=openapi_body(CreateJob),
    responses=error_responses(400, 401, 403, 404, 409, 413),
)
async def create_job(
    request: Request, caller: BatchCaller, jobs: Jobs, settings: SettingsDep
) -> FastJSONResponse:
    """A job waiting for its input; ``upload`` is the presigned POST (url and form fields)."""
    body = parse_as(CreateJob, await read_json(request, settings.max_body_bytes))
    job, upload = jobs.create(
        caller, body.model, body.version, body.input_format, explain=body.explain
    )
    return FastJSONResponse(job.public() | {"upload": upload}, status_code=201)


@router.get("", responses=error_responses(400, 401, 403))
async def list_jobs(
    caller: BatchCaller,
    jobs: Jobs,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """The caller's jobs, newest first; ``next`` is the cursor of the next page."""
    page, cursor = jobs.page(caller, limit, after)
    return page_body([job.public() for job in page], cursor)


@router.get("/{job_id}", responses=error_responses(400, 401, 403, 404))
async def get_job(job_id: JobId, caller: BatchCaller, jobs: Jobs) -> dict[str, Any]:
    """Status, counts, timings, and a link to the output once the job finished."""
    job = jobs.get(caller, job_id)
    return job.public(jobs.output_url(job))


@router.delete("/{job_id}", responses=error_responses(400, 401, 403, 404, 409))
async def cancel_job(job_id: JobId, caller: BatchCaller, jobs: Jobs) -> dict[str, Any]:
    """Cancel a job that has not finished (409 for one that has)."""
    return jobs.cancel(caller, job_id).public()
