"""A deleted account's training jobs: cancelled, then deleted with their datasets."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from aiaas.training.records import ACTIVE
from aiaas.training.store import DynamoTrainingJobs


class DatasetFiles(Protocol):
    """The dataset bucket (the batch bucket's ``training/`` prefix)."""

    def erase(self, keys: Iterable[str], prefixes: Iterable[str]) -> int: ...


class TrainingEraser:
    """`TenantJobs` for training: the jobs table's training jobs and their datasets."""

    def __init__(self, store: DynamoTrainingJobs, files: DatasetFiles) -> None:
        self.store = store
        self.files = files

    def erase_tenant(self, tenant: str) -> tuple[int, int]:
        """Cancel the unfinished jobs first (every step checks the status before it works),
        then delete each job's dataset, candidates and record. The models they registered are
        the tenant's models, erased with the catalog. Returns (jobs, files)."""
        jobs = self.store.all_for_tenant(tenant)
        for job in jobs:
            if not job.finished:
                self.store.transition(
                    job, ACTIVE, status="CANCELLED", completed_at=int(time.time())
                )
        files = 0
        for job in jobs:
            files += self.files.erase([job.input_key], [])
            self.store.delete(job.id)
        return len(jobs), files
