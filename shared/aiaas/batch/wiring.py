"""Batch jobs' wiring: the stores, the splitter and the chunk runner, made on first use.

Apart from `aiaas.services` so that functions without batch work (the API functions) do not
import the batch package at cold start.
"""

from __future__ import annotations

from functools import lru_cache

from aiaas.batch.jobs import JobLimits, JobService, ModelCheck, builtin_models
from aiaas.batch.pipeline import ChunkRunner, SplitConfig, Splitter
from aiaas.batch.records import BatchJob
from aiaas.repositories.batch_files import S3BatchFiles, SqsChunks
from aiaas.repositories.jobs import DynamoJobs
from aiaas.services import (
    aws_client,
    catalog_service,
    get_registry,
    registered_models,
    usage_service,
)
from aiaas.settings import get_settings


@lru_cache(maxsize=1)
def job_store() -> DynamoJobs:
    """Batch jobs on the jobs table."""
    s = get_settings()
    s.require("jobs_table")
    return DynamoJobs(aws_client("dynamodb"), str(s.jobs_table))


@lru_cache(maxsize=1)
def batch_files() -> S3BatchFiles:
    """The batch bucket."""
    s = get_settings()
    s.require("batch_bucket")
    return S3BatchFiles(aws_client("s3"), str(s.batch_bucket))


@lru_cache(maxsize=1)
def model_check() -> ModelCheck:
    """Which models a tenant may run in a batch job (the layer's, then the catalog's)."""
    return ModelCheck(catalog_service(), builtin_models(get_settings().models_dir))


@lru_cache(maxsize=1)
def job_service() -> JobService:
    """The jobs API's service."""
    s = get_settings()
    store = job_store()
    limits = JobLimits(s.batch_max_input_bytes, s.batch_link_seconds)
    return JobService(store, store, batch_files(), model_check(), limits)


@lru_cache(maxsize=1)
def splitter() -> Splitter:
    """BatchSplitFunction's splitter."""
    s = get_settings()
    s.require("batch_queue_url")
    config = SplitConfig(
        s.batch_chunk_rows, s.batch_max_input_bytes, s.batch_max_line_bytes, s.batch_inbox_tenant
    )
    queue = SqsChunks(aws_client("sqs"), str(s.batch_queue_url))
    return Splitter(job_store(), batch_files(), queue, config, model_check().problem)


@lru_cache(maxsize=1)
def chunk_runner() -> ChunkRunner:
    """BatchFunction's chunk runner (imports the inference runtime)."""
    from aiaas.batch.scoring import ModelScorer  # noqa: PLC0415 - InferenceLayer only

    scorer = ModelScorer(get_registry(), registered_models)
    return ChunkRunner(
        job_store(),
        batch_files(),
        scorer,
        max_receives=get_settings().batch_max_receives,
        on_finished=meter_job,
    )


def meter_job(job: BatchJob) -> None:
    """Count a finished job's scored rows in its tenant's usage (no quota applies)."""
    if job.succeeded:
        usage_service().record(job.tenant, job.meter_id or "batch", job.model, job.succeeded)
