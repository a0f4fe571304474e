"""A deleted account's batch jobs: cancelled, then deleted with their files."""

from __future__ import annotations

from aiaas.batch.files import S3BatchFiles
from aiaas.batch.jobs import ACTIVE
from aiaas.batch.pipeline import now
from aiaas.batch.records import WORK
from aiaas.batch.store import DynamoJobs


class JobEraser:
    """`TenantJobs` on the jobs table and the batch bucket."""

    def __init__(self, store: DynamoJobs, files: S3BatchFiles) -> None:
        self.store = store
        self.files = files

    def erase_tenant(self, tenant: str) -> tuple[int, int]:
        """Cancel the tenant's unfinished jobs first (workers check before each chunk, and a
        chunk's counts cannot land on a cancelled or deleted job), then delete each job's
        input, chunks, results and output and its records. A chunk already scoring may still
        write its result under ``work/``, which the bucket's lifecycle rule expires in 3 days.
        Returns (jobs, files)."""
        jobs = self.store.all_for_tenant(tenant)
        for job in jobs:
            if not job.finished:
                cancel = {"status": "CANCELLED", "completed_at": now()}
                self.store.transition(job.id, ACTIVE, cancel)
        files = 0
        for job in jobs:
            files += self.files.erase([job.input_key, job.output_key], [f"{WORK}{job.id}/"])
            self.store.delete(job.id)
        return len(jobs), files
