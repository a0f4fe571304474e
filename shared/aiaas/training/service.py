"""The training jobs API's domain: create (with a presigned upload), read, list, cancel.

A tenant sees only its own jobs: another tenant's job id answers 404, as a missing one does.
A job that is REGISTERING finishes when its catalog version does: reading the job looks at
the version and records SUCCEEDED (READY) or FAILED (with registration's reason).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiaas.auth.principal import Principal
from aiaas.domain.catalog import NAME, CatalogService
from aiaas.errors import Conflict, InvalidInput, NotFound
from aiaas.training.records import (
    ACTIVE,
    CATALOG_TASK,
    TrainingJob,
    build_spec,
    rank,
    upload_key,
)
from aiaas.training.store import DynamoTrainingJobs


class UploadLinks(Protocol):
    """Presigned uploads of the dataset bucket."""

    def presign_upload(self, key: str, max_bytes: int, expires: int) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class TrainingLimits:
    """What a job may ask for (the Lambda path's limits)."""

    max_bytes: int
    max_grid: int
    max_runtime_s: int
    link_seconds: int


def new_training_id() -> str:
    """``train_`` and 24 random hex digits."""
    return f"train_{secrets.token_hex(12)}"


def check_model_name(catalog: CatalogService, tenant: str, name: str, task: str) -> None:
    """Refuse a name the job cannot register under: malformed, another tenant's, or the
    tenant's own model of another task."""
    if not NAME.match(name):
        raise InvalidInput(
            "model: 3-64 characters of a-z, 0-9, '.', '_', '-', starting and ending with a "
            "letter or digit",
            param="model",
        )
    own = catalog.store.get_model(tenant, name)
    if own is not None and not own.deleted:
        if own.task != CATALOG_TASK[task]:
            raise Conflict(
                f"model {name!r} has task {own.task}; a {task} job adds versions only to a "
                f"{CATALOG_TASK[task]} model",
                param="model",
            )
        return
    if any(m.name == name and not m.deleted for m in catalog.store.public_models()):
        raise Conflict(f"model name {name!r} belongs to another tenant", param="model")


class TrainingService:
    """Training jobs of the caller's tenant."""

    def __init__(
        self,
        store: DynamoTrainingJobs,
        files: UploadLinks,
        catalog: CatalogService,
        limits: TrainingLimits,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.files = files
        self.catalog = catalog
        self.limits = limits
        self.clock = clock

    def create(
        self, caller: Principal, body: Mapping[str, Any]
    ) -> tuple[TrainingJob, dict[str, Any]]:
        """A job waiting for its dataset, and the presigned POST to upload it with."""
        spec = build_spec(
            body, max_grid=self.limits.max_grid, max_runtime_s=self.limits.max_runtime_s
        )
        check_model_name(self.catalog, caller.tenant, spec.model, spec.task)
        job_id = new_training_id()
        job = TrainingJob(
            id=job_id,
            tenant=caller.tenant,
            spec=spec,
            status="PENDING_UPLOAD",
            created_at=int(self.clock()),
            input_key=upload_key(job_id),
            meter_id=caller.meter_id,
            candidates_total=len(spec.candidates()),
        )
        self.store.create(job)
        upload = self.files.presign_upload(
            job.input_key, self.limits.max_bytes, self.limits.link_seconds
        )
        upload = {**upload, "max_bytes": self.limits.max_bytes, "format": "csv"}
        return job, upload

    def get(self, caller: Principal, job_id: str) -> TrainingJob:
        """The caller's job (settled if its version finished registering); NotFound for a
        missing job and for another tenant's."""
        job = self.store.get(job_id) if job_id.startswith("train_") else None
        if job is None or job.tenant != caller.tenant:
            raise NotFound(f"training job {job_id!r} not found", param="id")
        return self._settled(job)

    def leaderboard(self, job: TrainingJob) -> list[dict[str, Any]]:
        """Every scored candidate, best first (failed and skipped ones last)."""
        return rank(self.store.candidates(job.id), job.spec.metric)

    def page(
        self, caller: Principal, limit: int, after: str | None
    ) -> tuple[list[TrainingJob], str | None]:
        """The caller's jobs, newest first."""
        try:
            jobs, cursor = self.store.page(caller.tenant, limit, after)
        except (ValueError, TypeError) as exc:
            raise InvalidInput("'after' is not a cursor this API gave", param="after") from exc
        return [self._settled(job) for job in jobs], cursor

    def cancel(self, caller: Principal, job_id: str) -> TrainingJob:
        """Cancel a job that has not finished; Conflict for one that has."""
        job = self.get(caller, job_id)
        if job.finished or not self.store.transition(
            job, ACTIVE, status="CANCELLED", completed_at=int(self.clock())
        ):
            current = self.get(caller, job_id)
            raise Conflict(f"training job {job_id!r} is {current.status}; it cannot be cancelled")
        return self.get(caller, job_id)

    def _settled(self, job: TrainingJob) -> TrainingJob:
        if job.status != "REGISTERING" or job.registered_version is None:
            return job
        version = self.catalog.store.get_version(job.tenant, job.spec.model, job.registered_version)
        if version is None or version.status not in ("READY", "FAILED"):
            return job
        changes: dict[str, Any] = {"completed_at": int(self.clock())}
        if version.status == "READY":
            changes["status"] = "SUCCEEDED"
        else:
            changes |= {"status": "FAILED", "reason": f"registration failed: {version.reason}"}
        self.store.transition(job, ("REGISTERING",), **changes)
        return self.store.get(job.id) or job
