"""The GPU container's models: verified weights from S3, one session and batcher per version.

A forwarded request names its model with a ``GpuTarget`` (artifact URI and sha256); the
first request for a target downloads the weights through the shared ``WeightsCache``
(verified against the sha256), opens a session (fp16 when it passes the gate on a GPU) and
starts its ``DynamicBatcher``. Loaded versions live in the runtime's `ModelPool`: concurrent
first requests load once; the least recently used model is unloaded beyond ``max_models``.
A generative model (chat, speech) is a whole runtime `Model` instead, on every file its
target names, run request by request (`GpuModels.run_task`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiaas.aws.lite import error_code
from aiaas.errors import InvalidInput, NotFound, Overloaded, Unavailable
from aiaas.gpu.fp16 import fp16_variant
from aiaas.gpu.runtime import Runtime, check_feeds, input_specs, provider_of, runner
from aiaas.registration.quantization import GateConfig
from aiaas.registration.validation import error_text
from aiaas.serving.gpu import GpuTarget, GpuTaskTarget
from aiaas.serving.predictions import runtime_errors
from aiaas.serving.weights_cache import WeightsCache
from aiaas_runtime import Model, SessionRunner
from aiaas_runtime.batcher import DynamicBatcher, Feeds
from aiaas_runtime.errors import BatcherClosedError, QueueFullError
from aiaas_runtime.manifest import TensorSpec, parse_manifest
from aiaas_runtime.pool import ModelPool, Opened
from aiaas_runtime.session import open_session
from aiaas_runtime.tasks import processor_for

logger = logging.getLogger(__name__)

MISSING_OBJECT = frozenset({"404", "NoSuchKey", "NotFound"})
SHA256 = re.compile(r"[0-9a-f]{64}")  # it names the cached file: nothing else may pass
Key = tuple[str, int, str]


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """The dynamic batcher of every model (settings ``gpu_max_*``).

    Attributes:
        max_batch: Most rows in one run (1: no batching).
        max_delay_s: Longest wait for more requests.
        max_queue: Requests waiting per model before 503.
        enabled: False runs each request alone (to measure batching's effect).
    """

    max_batch: int = 64
    max_delay_s: float = 0.002
    max_queue: int = 1024
    enabled: bool = True


@dataclass(eq=False)
class LoadedModel:
    """One catalog version, open and batching.

    Attributes:
        target: What the request named.
        inputs: The graph's inputs by name.
        outputs: The graph's output names, in order.
        variant: ``fp16`` or ``fp32``: which graph runs.
        provider: The execution provider it runs on.
        fp16: Why fp16 was kept, rejected or not tried.
        batcher: Its dynamic batcher.
    """

    target: GpuTarget
    inputs: dict[str, TensorSpec]
    outputs: tuple[str, ...]
    variant: Literal["fp16", "fp32"]
    provider: str
    fp16: str
    batcher: DynamicBatcher = field(repr=False)

    def check(self, feeds: Feeds, outputs: Sequence[str] = ()) -> None:
        """Refuse inputs the graph does not take (names, datatypes, shapes), and outputs it
        does not return (the catalog's output names should be the graph's).

        Raises:
            InvalidInput: Naming the tensor at fault.
        """
        unknown = [name for name in outputs if name not in self.outputs]
        if unknown:
            raise InvalidInput(
                f"the artifact has no output {unknown[0]!r}; it returns {', '.join(self.outputs)}",
                param="outputs",
            )
        check_feeds(self.inputs, feeds)

    async def infer(self, feeds: Feeds) -> Feeds:
        """Run one request through the batcher, without blocking the event loop.

        Raises:
            Overloaded: The model's queue is full (503 with Retry-After).
            Unavailable: The model was unloaded meanwhile.
            InvalidInput: onnxruntime refused to run these inputs.
        """
        try:
            return await self.batcher.infer_async(feeds)
        except QueueFullError as exc:
            raise Overloaded(f"the model is busy: {exc.message}; retry shortly") from exc
        except BatcherClosedError as exc:
            raise Unavailable("the model was unloaded while the request waited; retry") from exc
        except Exception as exc:  # onnxruntime's errors are untyped
            logger.warning("%s failed to run: %s", self.target.model, error_text(exc))
            raise InvalidInput(
                f"the model could not run on these inputs: {error_text(exc)}"
            ) from exc

    def describe(self) -> dict[str, Any]:
        """What runs and how its batcher fares, for ``/stats`` and the bench."""
        return {
            "model": self.target.model,
            "version": self.target.version,
            "variant": self.variant,
            "provider": self.provider,
            "fp16": self.fp16,
            "batcher": self.batcher.stats().to_dict(),
        }


class GpuModels:
    """Loaded versions, least recently used first out.

    Args:
        cache: Verified model files from the weights bucket.
        bucket: The weights bucket; a target elsewhere is refused (defense in depth).
        runtime: Where sessions run.
        batching: The batcher of each model.
        max_models: Versions kept loaded at once.
        fp16: Serve an fp16 graph where it passes ``gate`` (on a GPU only).
        gate: The accuracy gate for fp16.
    """

    def __init__(
        self,
        cache: WeightsCache,
        *,
        bucket: str,
        runtime: Runtime,
        batching: BatchConfig,
        max_models: int = 4,
        fp16: bool = True,
        gate: GateConfig | None = None,
    ) -> None:
        self.cache = cache
        self.bucket = bucket
        self.runtime = runtime
        self.batching = batching
        self.max_models = max_models
        self.fp16 = fp16 and runtime.gpu
        self.gate = gate or GateConfig()
        self._pool: ModelPool[LoadedModel] = ModelPool(
            max_items=max_models, max_bytes=1 << 62, on_evict=_unload
        )
        self._tasks: ModelPool[Model] = ModelPool(max_items=max_models, max_bytes=1 << 62)
        self._task_runs: dict[str, int] = {}

    async def load(self, target: GpuTarget) -> LoadedModel:
        """``get`` for the event loop: a loaded model at once, a load in a worker thread.

        Raises:
            InvalidInput, NotFound, Unavailable: As ``get``.
        """
        self.check(target)
        loaded = self.cached(target)
        return loaded if loaded is not None else await asyncio.to_thread(self.get, target)

    def check(self, target: GpuTarget) -> None:
        """Refuse a target outside the weights bucket or with a malformed sha256.

        Raises:
            InvalidInput: Naming the parameter at fault.
        """
        self._check_file(target.artifact, target.sha256)

    def _check_file(self, uri: str, sha256: str) -> None:
        if not uri.startswith(f"s3://{self.bucket}/"):
            raise InvalidInput("artifact must be in the weights bucket", param="artifact")
        if not SHA256.fullmatch(sha256):
            raise InvalidInput("sha256 must be 64 lowercase hex digits", param="sha256")

    def cached(self, target: GpuTarget) -> LoadedModel | None:
        """The loaded model for ``target``, when it is loaded (cheap: no I/O)."""
        return self._pool.cached(_key(target))

    def get(self, target: GpuTarget) -> LoadedModel:
        """The loaded model for ``target``, loading it first (blocking: call from a thread).

        Concurrent first requests for one version load it once; beyond ``max_models`` the
        least recently used version is unloaded (its queue still runs, then it stops).

        Raises:
            InvalidInput: The artifact is outside the weights bucket.
            NotFound: The artifact does not exist.
            Unavailable: Its bytes do not match the sha256, or the model cannot be loaded.
        """
        self.check(target)
        return self._pool.get(_key(target), lambda: Opened(self._load(target), 0))

    def run_task(self, target: GpuTaskTarget, item: Any) -> dict[str, Any]:
        """A generative model's whole request (chat, speech), on its sessions here, loaded on
        first use (blocking: call from a thread).

        Raises:
            InvalidInput: A file outside the weights bucket, or a request the model refuses.
            NotFound, Unavailable: As ``get``.
        """
        for _, uri, sha256 in target.artifacts:
            self._check_file(uri, sha256)
        key = (target.model, target.version, "task")
        model = self._tasks.get(key, lambda: Opened(self._load_task(target), 0))
        with runtime_errors():
            result: dict[str, Any] = model.predict([item]).results[0]
        self._task_runs[target.model] = self._task_runs.get(target.model, 0) + 1
        return result

    def _load_task(self, target: GpuTaskTarget) -> Model:
        files = {
            role: self._fetch(target.model, target.version, uri, sha256)
            for role, uri, sha256 in target.artifacts
        }
        artifacts = {
            role: {"file": path.name, "sha256": sha256, "size": path.stat().st_size}
            for (role, _, sha256), path in zip(target.artifacts, files.values(), strict=True)
        }
        with runtime_errors():
            manifest = parse_manifest(
                {**target.manifest, "artifacts": artifacts}, files["fp32"].parent
            )
            session = open_session(
                files["fp32"], prefer_gpu=self.runtime.gpu, blocks=files.get("blocks")
            )
        logger.info("loaded %s version %s (%s) on %s", target.model, target.version,
                    manifest.task, provider_of(session))  # fmt: skip
        return Model(manifest, SessionRunner(session), processor_for(manifest), "fp32")

    def stats(self) -> list[dict[str, Any]]:
        """Every loaded model, most recently used last."""
        return [model.describe() for model in self._pool.values()]

    def task_stats(self) -> list[dict[str, Any]]:
        """Every loaded generative model and the requests it ran."""
        return [
            {"model": model.manifest.name, "version": model.manifest.version,
             "task": model.manifest.task, "requests": self._task_runs.get(model.manifest.name, 0)}
            for model in self._tasks.values()
        ]  # fmt: skip

    def close(self) -> None:
        """Stop every batcher (waiting requests fail)."""
        for model in self._pool.clear():
            model.batcher.close()

    def _load(self, target: GpuTarget) -> LoadedModel:
        data = self._weights(target)
        session = self.runtime.open(data)
        provider = provider_of(session)
        if self.runtime.gpu and provider == "CPUExecutionProvider":
            logger.warning("%s runs on the CPU: the GPU provider refused it", target.model)
        inputs = input_specs(session)
        outputs = tuple(o.name for o in session.get_outputs())
        variant: Literal["fp16", "fp32"] = "fp32"
        reason = "not tried: no GPU" if not self.runtime.gpu else "off"
        if self.fp16 and provider != "CPUExecutionProvider":
            specs = list(inputs.values())
            decision = fp16_variant(data, session, specs, self.gate, self.runtime.open)
            reason = decision.reason
            if decision.kept:
                session, variant = decision.session, "fp16"
        logger.info(
            "loaded %s version %s: %s on %s (fp16: %s)",
            target.model, target.version, variant, provider, reason,
        )  # fmt: skip
        batcher = DynamicBatcher(
            runner(session, outputs),
            max_batch=self.batching.max_batch,
            max_delay_s=self.batching.max_delay_s,
            max_queue=self.batching.max_queue,
            enabled=self.batching.enabled,
            name=f"{target.model}:{target.version}",
        )
        return LoadedModel(target, inputs, outputs, variant, provider, reason, batcher)

    def _weights(self, target: GpuTarget) -> bytes:
        path = self._fetch(target.model, target.version, target.artifact, target.sha256)
        return path.read_bytes()

    def _fetch(self, model: str, version: int, uri: str, sha256: str) -> Path:
        try:
            return self.cache.path(uri, sha256)
        except Unavailable as exc:
            if error_code(exc.__cause__ or exc) in MISSING_OBJECT:
                raise NotFound(
                    f"the weights of {model!r} version {version} are not in the weights bucket",
                    param="artifact",
                ) from exc
            raise


def _unload(old: LoadedModel) -> None:
    logger.info("unloading %s version %s", old.target.model, old.target.version)
    old.batcher.close(drain=True, timeout=0)  # its queue still runs, then it stops


def _key(target: GpuTarget) -> Key:
    return (target.model, target.version, target.sha256)
