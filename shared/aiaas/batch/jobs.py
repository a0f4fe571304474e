"""The jobs API's domain: create (with a presigned upload), read, list, cancel; model checks.

A tenant sees only its own jobs: another tenant's job id answers 404, as a missing one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aiaas.auth.principal import Principal
from aiaas.batch.pipeline import JobStore, new_job_id, now
from aiaas.batch.records import (
    OUTPUTS,
    BatchJob,
    InputFormat,
    upload_key,
)
from aiaas.domain.catalog import CatalogService
from aiaas.errors import Conflict, InvalidInput, NotFound

ACTIVE = ("UPLOADING", "QUEUED", "RUNNING")
# tasks whose inputs are rows (CSV fits); tasks a batch job can explain with default parameters
ROW_TASKS = ("tabular-classification", "tabular-regression", "custom")
EXPLAINABLE = (
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "text-classification",
    "face-detection",
)


class JobFiles(Protocol):
    """Presigned links of the batch bucket."""

    def presign_upload(self, key: str, max_bytes: int, expires: int) -> dict[str, Any]: ...
    def presign_download(self, key: str, expires: int) -> str: ...


class JobPages(Protocol):
    """Listing a tenant's jobs."""

    def page(
        self, tenant: str, limit: int, after: str | None
    ) -> tuple[list[BatchJob], str | None]: ...


@dataclass
class ModelCheck:
    """Whether a tenant may run a model (and version) in a batch job, asked of the catalog
    (where the built-ins are public entries, seeded by CatalogFunction at its cold start)."""

    catalog: CatalogService

    def problem(self, tenant: str, name: str, version: int | None) -> str:
        """Why the tenant cannot run it; "" when it can."""
        try:
            self.task(tenant, name, version)
        except (NotFound, InvalidInput) as exc:
            return exc.message
        return ""

    def task(self, tenant: str, name: str, version: int | None) -> str:
        """The model's task; NotFound or InvalidInput when the tenant cannot run it."""
        model = self.catalog.resolve(Principal(tenant, "batch", "key", "", frozenset()), name)
        number = version or model.default_version
        if number is None:
            raise InvalidInput(f"model {name!r} has no READY version yet", param="model")
        status = self.catalog.version(model, number).status
        if status != "READY":
            raise InvalidInput(f"model {name!r} version {number} is {status}", param="version")
        return model.task


@dataclass(frozen=True)
class JobLimits:
    """What an upload may be and how long links live."""

    max_input_bytes: int
    link_seconds: int


class JobService:
    """Jobs of the caller's tenant."""

    def __init__(
        self,
        store: JobStore,
        pages: JobPages,
        files: JobFiles,
        models: ModelCheck,
        limits: JobLimits,
    ) -> None:
        self.store = store
        self.pages = pages
        self.files = files
        self.models = models
        self.limits = limits

    def create(
        self,
        caller: Principal,
        model: str,
        version: int | None,
        input_format: InputFormat,
        *,
        explain: bool = False,
    ) -> tuple[BatchJob, dict[str, Any]]:
        """A job waiting for its input, and the presigned POST to upload it with; with
        ``explain`` each output row also carries its explanation (default parameters)."""
        task = self.models.task(caller.tenant, model, version)
        if explain and task not in EXPLAINABLE:
            raise InvalidInput(
                f"{model!r} is a {task} model; batch explanations are for "
                f"{', '.join(EXPLAINABLE)} models (embeddings need compare_to: use the "
                "explain route)",
                param="explain",
            )
        if input_format == "csv" and task not in ROW_TASKS:
            raise InvalidInput(
                f"CSV input is for tabular models; {model!r} is {task}: use jsonl",
                param="input_format",
            )
        job_id = new_job_id()
        job = BatchJob(
            id=job_id,
            tenant=caller.tenant,
            model=model,
            version=version,
            input_format=input_format,
            explain=explain,
            status="UPLOADING",
            created_at=now(),
            input_key=upload_key(job_id, input_format),
            output_key=f"{OUTPUTS}{job_id}.jsonl",
            meter_id=caller.meter_id,
        )
        self.store.create(job)
        upload = self.files.presign_upload(
            job.input_key, self.limits.max_input_bytes, self.limits.link_seconds
        )
        return job, upload

    def get(self, caller: Principal, job_id: str) -> BatchJob:
        """The caller's job; NotFound for a missing job and for another tenant's."""
        job = self.store.get(job_id) if job_id.startswith("batch_") else None
        if job is None or job.tenant != caller.tenant:
            raise NotFound(f"batch job {job_id!r} not found", param="id")
        return job

    def output_url(self, job: BatchJob) -> str | None:
        """A presigned link to the output, once the job finished with one."""
        if job.status not in ("SUCCEEDED", "PARTIALLY_FAILED", "FAILED") or not job.total_chunks:
            return None
        return self.files.presign_download(job.output_key, self.limits.link_seconds)

    def page(
        self, caller: Principal, limit: int, after: str | None
    ) -> tuple[list[BatchJob], str | None]:
        """The caller's jobs, newest first."""
        try:
            return self.pages.page(caller.tenant, limit, after)
        except (ValueError, TypeError) as exc:
            raise InvalidInput("'after' is not a cursor this API gave", param="after") from exc

    def cancel(self, caller: Principal, job_id: str) -> BatchJob:
        """Cancel a job that has not finished; Conflict for one that has."""
        job = self.get(caller, job_id)
        if not self.store.transition(
            job.id, ACTIVE, {"status": "CANCELLED", "completed_at": now()}
        ):
            current = self.get(caller, job_id)
            raise Conflict(f"batch job {job_id!r} is {current.status}; it cannot be cancelled")
        return self.get(caller, job_id)
