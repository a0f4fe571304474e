"""Opening a catalog version as a runtime `Model`: verified weights from S3, then a session
on this CPU, or a runner that forwards tensors to the GPU container.

The version's manifest is its build manifest (built-ins seeded into S3) or is made from what
the owner declared at creation (task, labels, features, output, preprocessing) and the
tensors registration found, so a registered classifier answers with labels and scores and a
registered embedding model with an uploaded ``tokenizer.json`` takes texts, like a built-in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.errors import Unavailable
from aiaas.serving.gpu import (
    GENERATIVE_TASKS,
    LOCAL_ROLES,
    GpuBackend,
    GpuRunner,
    GpuTarget,
    GpuTaskTarget,
)
from aiaas.serving.weights_cache import WeightsCache
from aiaas_runtime import Model, ModelManifest, Opened, SessionRunner
from aiaas_runtime.blocks import model_resident_bytes
from aiaas_runtime.manifest import parse_manifest
from aiaas_runtime.session import open_session
from aiaas_runtime.tasks import processor_for

MAX_ITEMS = 256  # rows per request (and per tensor batch) of a registered model
TOKEN_BATCH = 32  # token arrays are padded to the longest of their batch
GPU_ENTRY_BYTES = 1 << 20  # a forwarded model holds a processor (a tokenizer) at most


class CatalogLoader:
    """Opens READY catalog versions (the resolver has checked visibility and status).

    Args:
        cache: Verified model files from the weights bucket.
        gpu: Where ``gpu`` models run; None when this deployment has no GPU container.
        threads: onnxruntime intra-op threads.
    """

    def __init__(
        self, cache: WeightsCache, *, gpu: GpuBackend | None = None, threads: int | None = None
    ) -> None:
        self.cache = cache
        self.gpu = gpu
        self.threads = threads

    def open(self, model: CatalogModel, version: ModelVersion) -> Opened[Model]:
        """The version as a runtime model, with its estimated resident bytes.

        Raises:
            Unavailable: No GPU backend for a ``gpu`` model, weights that do not match their
                sha256, or a file this function cannot reach.
        """
        if model.runtime == "gpu":
            return self._forwarded(model, version)
        variant = "int8" if "int8" in version.artifacts else "fp32"
        # besides the graph: a tokenizer, or a multi-graph model's other files (OCR's)
        extra = sorted(role for role in version.artifacts if role not in ("fp32", "int8"))
        files = self._files(version, (variant, *extra))  # a language model's weight blocks
        explain = {"background": self._background(version)}
        if version.training.get("importance"):
            explain["importance"] = version.training["importance"]
        manifest = manifest_of(model, version, files, explain)
        blocks = files.get("blocks")
        session = open_session(
            files[variant], threads=self.threads, prefer_gpu=False, blocks=blocks
        )
        served = Model(manifest, SessionRunner(session), processor_for(manifest), variant)
        return Opened(served, model_resident_bytes(files[variant], files))

    def _forwarded(self, model: CatalogModel, version: ModelVersion) -> Opened[Model]:
        if self.gpu is None:
            raise Unavailable("GPU backend not configured for this deployment")
        if model.task in GENERATIVE_TASKS:
            return self._forwarded_task(model, version, self.gpu)
        files = self._files(version, ("tokenizer",))
        manifest = manifest_of(model, version, files)
        target = GpuTarget(
            model.name,
            version.version,
            version.artifacts["fp32"],
            version.digest("fp32"),
            tuple(o.name for o in manifest.outputs),
        )
        runner = GpuRunner(self.gpu, target)
        served = Model(manifest, runner, processor_for(manifest), "gpu")  # fp16/fp32: its choice
        return Opened(served, GPU_ENTRY_BYTES)

    def _forwarded_task(
        self, model: CatalogModel, version: ModelVersion, gpu: GpuBackend
    ) -> Opened[Model]:
        """A chat or speech model in the container: its processor here validates (on its
        tokenizer and mel filters), whole requests go to the container."""
        # imported here: the chat task's module costs ~30 ms of every cold start otherwise
        from aiaas.serving.gpu_tasks import ForwardedTask, NoLocalGraph  # noqa: PLC0415

        if not version.manifest:
            raise Unavailable(f"model {model.name!r}: only built-in generative models run on GPU")
        files = self._files(version, LOCAL_ROLES[model.task])
        manifest = manifest_of(model, version, files)
        artifacts = tuple(
            (role, uri, version.digest(role)) for role, uri in sorted(version.artifacts.items())
        )
        target = GpuTaskTarget(model.name, version.version, dict(version.manifest), artifacts)
        processor = ForwardedTask(processor_for(manifest), gpu, target)
        served = Model(manifest, NoLocalGraph(), processor, "gpu")
        return Opened(served, GPU_ENTRY_BYTES)

    def _background(self, version: ModelVersion) -> list[Any] | None:
        """The explanations' background: the owner's upload, or a trained version's sample."""
        uri, digest = version.training.get("background"), version.training.get("background_sha256")
        if version.background:  # the owner's own, uploaded with PUT .../background
            uri, digest = version.background["uri"], version.background["sha256"]
        if not uri or not digest:
            return None
        rows = json.loads(self.cache.path(uri, digest).read_bytes()).get("rows")
        return rows if isinstance(rows, list) else None

    def _files(self, version: ModelVersion, roles: tuple[str, ...]) -> dict[str, Path]:
        files = {}
        for role in roles:
            uri = version.artifacts.get(role)
            if uri is None:
                continue
            if not uri.startswith("s3://"):
                raise Unavailable(
                    f"model {version.name!r} is served from the models layer, which this "
                    "function does not carry"
                )
            files[role] = self.cache.path(uri, version.digest(role))
        return files


def manifest_of(
    model: CatalogModel,
    version: ModelVersion,
    files: dict[str, Path],
    explain: dict[str, Any] | None = None,
) -> ModelManifest:
    """The runtime manifest of a catalog version whose files are at ``files`` (by role)."""
    artifacts = {
        role: {"file": path.name, "sha256": version.digest(role), "size": path.stat().st_size}
        for role, path in files.items()
    }
    directory = next(iter(files.values())).parent if files else Path()
    if version.manifest:  # a built-in seeded into S3: its build manifest, our copies
        return parse_manifest({**version.manifest, "artifacts": artifacts}, directory)
    takes_tokens = any(t["name"] == "input_ids" for t in version.inputs)
    preprocessing: dict[str, Any] = dict(model.preprocessing)
    if model.features:
        preprocessing["features"] = list(model.features)
    labels = list(model.labels)
    if version.training:  # a trained version: its own typed columns and classes
        preprocessing["columns"] = version.training.get("columns", [])
        labels = [str(label) for label in version.training.get("labels", [])]
    postprocessing: dict[str, Any] = {"scores_kind": model.scores_kind}
    if model.output:
        postprocessing |= {"scores": model.output, "output": model.output}
    if model.detection:
        postprocessing["detection"] = dict(model.detection)
    raw = {
        "name": model.name,
        "version": str(version.version),
        "task": model.task,
        "description": model.description,
        "inputs": version.inputs,
        "outputs": version.outputs,
        "labels": labels,
        "preprocessing": preprocessing,
        "postprocessing": postprocessing,
        "limits": {
            "max_batch_size": TOKEN_BATCH if takes_tokens else MAX_ITEMS,
            "max_items": MAX_ITEMS,
        },
        "artifacts": artifacts,
        "quality": version.quality,
    }
    if explain and explain.get("background"):
        raw["explain"] = explain  # aiaas_runtime.explain: background rows, importance
    return parse_manifest(raw, directory)
