"""TrainingFunction's steps: the dataset's upload, profiling, one message per candidate, and
the finish (refit, evaluate, export, register). Every step is an SQS message, so each gets
its own 15-minute invocation and a failing one is delivered again.

| step | from -> to | sent by |
|---|---|---|
| upload (S3 event) | PENDING_UPLOAD -> QUEUED | S3 |
| ``profile`` | QUEUED -> PROFILING -> SEARCHING | the upload |
| ``candidates`` | (SEARCHING) a result per candidate | profiling, one message per group |
| ``finish`` | SEARCHING -> EVALUATING -> REGISTERING | the candidate that completed the search |

Registration is the catalog's own pipeline: the worker allocates a version with the job's
typed columns and labels, writes ``parity.json`` (the held-out rows with scikit-learn's
answers) and then ``model.onnx`` under the version's upload key; RegisterModelFunction
validates, checks parity, quantizes behind its gate and profiles it. The job reads the
version's status to finish (`aiaas.training.service`).

Nothing is dropped: a message for a job that moved on (cancelled, failed, a duplicate
delivery) is acknowledged and changes nothing; an unexpected error is retried, and on the
last delivery the job ends FAILED with a reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiaas.auth.principal import Principal
from aiaas.domain.catalog import CatalogService, upload_key
from aiaas.domain.catalog_records import ModelVersion
from aiaas.errors import Conflict, InvalidInput
from aiaas.training.records import (
    ACTIVE,
    CATALOG_TASK,
    Candidate,
    TrainingJob,
    best_of,
    dumps,
    job_of_key,
    rank,
)
from aiaas.training.store import DynamoTrainingJobs
from aiaas.training.table import Dataset, DatasetError, Limits, load_dataset

logger = logging.getLogger(__name__)
INTERNAL = "internal error while training; start the job again or contact support"


class Queue(Protocol):
    """The training queue."""

    def send(self, bodies: list[str]) -> None: ...


class Datasets(Protocol):
    """The dataset bucket."""

    def read(self, key: str) -> bytes: ...


class Weights(Protocol):
    """The weights bucket."""

    def write(self, key: str, data: bytes) -> str: ...


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Limits and how the search is spread out."""

    limits: Limits
    candidates_per_message: int = 1
    max_receives: int = 3


def message(job_id: str, step: str, **extra: Any) -> str:
    """A training queue message."""
    return json.dumps({"job": job_id, "step": step, **extra})


class Trainer:
    """Runs training jobs' steps."""

    def __init__(
        self,
        store: DynamoTrainingJobs,
        datasets: Datasets,
        queue: Queue,
        catalog: CatalogService,
        *,
        weights: Weights,
        config: WorkerConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.datasets = datasets
        self.queue = queue
        self.catalog = catalog
        self.weights = weights
        self.config = config
        self.clock = clock
        self._cache: tuple[str, Dataset, Any] | None = None  # one job's dataset and split

    # --- entry points ----------------------------------------------------------------------

    def uploaded(self, key: str, size: int) -> str:
        """The dataset's S3 event: queue the job (once)."""
        job = self.store.get(job_of_key(key)) if job_of_key(key) else None
        if job is None or job.status != "PENDING_UPLOAD":
            return f"skip {key}: no job waits for it"
        if size > self.config.limits.max_bytes:
            reason = (
                f"the dataset is {size} bytes; the Lambda training path takes at most "
                f"{self.config.limits.max_bytes} bytes"
            )
            self._fail(job, reason, ("PENDING_UPLOAD",))
            return f"{job.id}: FAILED ({reason})"
        if not self.store.transition(job, ("PENDING_UPLOAD",), status="QUEUED"):
            return f"skip {key}: a duplicate event"
        self.queue.send([message(job.id, "profile")])
        return f"{job.id}: QUEUED"

    def handle(self, body: str, receives: int = 1) -> str:
        """One queue message; raises to have it delivered again (until the last delivery,
        which fails the job instead)."""
        try:
            doc = json.loads(body)
            job_id, step = str(doc["job"]), str(doc["step"])
        except (ValueError, KeyError, TypeError):
            logger.error("not a training message; dropped")
            return "dropped: not a training message"
        job = self.store.get(job_id)
        if job is None or job.finished:
            return f"skip {job_id}: {'no such job' if job is None else job.status}"
        steps: dict[str, Callable[[], str]] = {
            "profile": lambda: self.profile(job),
            "candidates": lambda: self.candidates(job, [int(i) for i in doc["indices"]]),
            "finish": lambda: self.finish(job, receives),
        }
        if step not in steps:
            return f"dropped: unknown step {step!r}"
        try:
            return steps[step]()
        except DatasetError as exc:
            self._fail(job, exc.message)
            return f"{job.id}: FAILED ({exc.message})"
        except Exception:
            if receives < self.config.max_receives:
                raise
            logger.exception("%s: %s failed on its last delivery", job.id, step)
            self._fail(job, INTERNAL)
            return f"{job.id}: FAILED (internal error)"

    # --- steps -----------------------------------------------------------------------------

    def profile(self, job: TrainingJob) -> str:
        """Read and profile the dataset, then queue its candidates."""
        if job.status not in ("QUEUED", "PROFILING"):
            return f"skip {job.id}: {job.status}"
        now = int(self.clock())
        if job.status == "QUEUED" and not self.store.transition(
            job, ("QUEUED",), status="PROFILING", started_at=now
        ):
            return f"skip {job.id}: profiled by another delivery"
        job = self.store.get(job.id) or job
        dataset = self._dataset(job)
        candidates = job.spec.candidates()
        if not self.store.transition(
            job,
            ("PROFILING",),
            status="SEARCHING",
            profile=dataset.profile,
            candidates_total=len(candidates),
            search_started_at=int(self.clock()),
        ):
            return f"skip {job.id}: no longer profiling"
        size = self.config.candidates_per_message
        indices = [c.index for c in candidates]
        groups = [indices[i : i + size] for i in range(0, len(indices), size)]
        self.queue.send([message(job.id, "candidates", indices=g) for g in groups])
        return f"{job.id}: SEARCHING {len(candidates)} candidates"

    def candidates(self, job: TrainingJob, indices: list[int]) -> str:
        """Cross-validate some candidates on the training split; record each once."""
        from aiaas.training.search import cross_validate  # noqa: PLC0415 - scikit-learn

        if job.status != "SEARCHING":
            return f"skip {job.id}: {job.status}"
        by_index = {c.index: c for c in job.spec.candidates()}
        dataset, split = self._split(job)
        done = 0
        for index in indices:
            candidate = by_index.get(index)
            if candidate is None or self.store.recorded(job.id, index):
                continue
            if self._out_of_time(job):
                result = candidate.to_dict() | {"skipped": "max_runtime_s reached"}
            else:
                result = cross_validate(dataset, split, candidate, job.spec)
            if not self.store.record_candidate(job.id, index, result):
                return f"skip {job.id}: stopped searching"
            done += 1
        current = self.store.get(job.id)
        if (
            current is not None
            and current.status == "SEARCHING"
            and current.candidates_done >= current.candidates_total
        ):
            self.queue.send([message(job.id, "finish")])
        return f"{job.id}: {done} candidates scored"

    def finish(self, job: TrainingJob, receives: int = 1) -> str:
        """Pick the best, refit, evaluate on the held-out split, export and register.

        A first delivery finding the job EVALUATING is a duplicate of a running finish; a
        redelivery (the finish failed or timed out) carries on where it stopped.
        """
        from aiaas.training.search import finish  # noqa: PLC0415 - scikit-learn

        if job.status == "SEARCHING":
            if not self.store.transition(job, ("SEARCHING",), status="EVALUATING"):
                return f"skip {job.id}: finished by another delivery"
            job = self.store.get(job.id) or job
        elif job.status != "EVALUATING" or receives == 1:
            return f"skip {job.id}: {job.status}"
        results = self.store.candidates(job.id)
        best = best_of(results, job.spec.metric)
        if best is None:
            errors = [r.get("error") or r.get("skipped") for r in results]
            first = next((e for e in errors if e), "no candidate ran")
            self._fail(job, f"no candidate could be scored: {first}")
            return f"{job.id}: FAILED (no candidate)"
        dataset, split = self._split(job)
        trained = finish(dataset, split, best, job.spec)
        public_best = {k: best[k] for k in best if k not in ("rank", "seconds")}
        job = job.with_changes(
            best=public_best, metrics=trained.metrics, importance=trained.importance
        )
        try:
            number = self._register(job, dataset, trained)
        except (Conflict, InvalidInput) as exc:
            self._fail(job, exc.message)
            return f"{job.id}: FAILED ({exc.message})"
        self.store.transition(job, ("EVALUATING",), status="REGISTERING", registered_version=number)
        return f"{job.id}: REGISTERING {job.spec.model} v{number}"

    # --- helpers ---------------------------------------------------------------------------

    def _register(self, job: TrainingJob, dataset: Dataset, trained: Any) -> int:
        """Allocate the catalog version (once per job) and upload its files."""
        spec = job.spec
        owner = Principal(job.tenant, "training", "key", job.meter_id, frozenset())
        model = self.catalog.store.get_model(job.tenant, spec.model)
        if model is None or model.deleted:
            model = self.catalog.create(
                owner,
                name=spec.model,
                task=CATALOG_TASK[spec.task],
                description=f"Trained by {job.id} ({best_name(job)}) on {spec.target!r}",
                visibility="private",
                runtime="cpu",
                labels=trained.labels,
                features=[c.name for c in dataset.features],
            )
        elif model.task != CATALOG_TASK[spec.task]:
            raise Conflict(f"model {spec.model!r} has task {model.task}", param="model")
        number = job.registered_version
        if number is None:
            number = self.catalog.store.next_version(job.tenant, spec.model)
            self.store.transition(job, ("EVALUATING",), registered_version=number)
        prefix = f"{job.tenant}/{spec.model}/{number}"
        background = _json(trained.background)
        training = {
            "job": job.id,
            "columns": dataset.schema(),
            "labels": trained.labels,
            "target": spec.target,
            "metric": spec.metric,
            "metrics": trained.metrics,
            "best": job.best,
            "importance": trained.importance,
            "background": self.weights.write(f"{prefix}/background.json", background),
            "background_sha256": hashlib.sha256(background).hexdigest(),
            "baseline": self.weights.write(f"{prefix}/baseline.json", _json(trained.baseline)),
            "leaderboard": self.weights.write(
                f"{prefix}/leaderboard.json",
                _json(rank(self.store.candidates(job.id), spec.metric)),
            ),
        }
        key = upload_key(job.tenant, spec.model, number, form=job.id.removeprefix("train_"))
        current = self.store.get(job.id)
        if current is None or current.status != "EVALUATING":  # cancelled meanwhile
            raise Conflict(f"training job {job.id!r} is no longer evaluating", param="id")
        existing = self.catalog.store.get_version(job.tenant, spec.model, number)
        if existing is None or existing.status == "PENDING_UPLOAD":
            self.catalog.store.put_version(
                ModelVersion(
                    tenant=job.tenant,
                    name=spec.model,
                    version=number,
                    status="PENDING_UPLOAD",
                    created_at=int(self.clock()),
                    upload_key=key,
                    training=training,
                )
            )
            folder = key.rsplit("/", 1)[0]
            self.weights.write(f"{folder}/parity.json", _json(trained.parity))
            self.weights.write(key, trained.onnx)  # its S3 event starts registration
        return number

    def _dataset(self, job: TrainingJob) -> Dataset:
        data = self.datasets.read(job.input_key)
        spec = job.spec
        return load_dataset(data, spec.target, spec.task, spec.cv, self.config.limits)

    def _split(self, job: TrainingJob) -> tuple[Dataset, Any]:
        """The job's dataset and held-out split (kept while this container runs its steps)."""
        from aiaas.training.search import split  # noqa: PLC0415

        if self._cache is None or self._cache[0] != job.id:
            dataset = self._dataset(job)
            self._cache = (job.id, dataset, split(dataset, job.spec))
        return self._cache[1], self._cache[2]

    def _out_of_time(self, job: TrainingJob) -> bool:
        started = job.search_started_at or job.started_at or job.created_at
        return self.clock() - started > job.spec.max_runtime_s

    def _fail(self, job: TrainingJob, reason: str, allowed: tuple[str, ...] | None = None) -> None:
        self.store.transition(
            job, allowed or ACTIVE, status="FAILED", reason=reason, completed_at=int(self.clock())
        )


def best_name(job: TrainingJob) -> str:
    """The best candidate's algorithm, once known."""
    return str(job.best.get("algorithm", "search"))


def _json(doc: Any) -> bytes:
    return dumps(doc).encode()


__all__ = ["Candidate", "Trainer", "WorkerConfig", "message"]
