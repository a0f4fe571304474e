"""The models installed in a directory, each opened once per process, on first use."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from aiaas_runtime.errors import ModelLoadError, ModelNotFoundError
from aiaas_runtime.manifest import MANIFEST_FILE, ModelManifest, load_manifest
from aiaas_runtime.model import Model
from aiaas_runtime.session import cuda_available, open_session, ort_version
from aiaas_runtime.tasks import processor_for

logger = logging.getLogger(__name__)

# Served artifact, best first. A pre-optimized file skips graph optimization at load.
DEFAULT_VARIANTS = ("int8_optimized", "int8", "fp32")
PREOPTIMIZED = {"int8_optimized"}


class ModelRegistry:
    """Finds manifests under ``models_dir`` and keeps loaded models for warm invocations.

    Thread-safe: concurrent first requests for one model open a single session.
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        variants: Iterable[str] = DEFAULT_VARIANTS,
        threads: int | None = None,
        prefer_gpu: bool = True,
    ) -> None:
        self.models_dir = models_dir
        self.variants = tuple(variants)
        self.threads = threads
        self.prefer_gpu = prefer_gpu
        self._manifests: dict[str, ModelManifest] | None = None
        self._models: dict[str, Model] = {}
        self._lock = threading.Lock()
        self._model_locks: dict[str, threading.Lock] = {}

    def manifests(self) -> dict[str, ModelManifest]:
        """All installed manifests by name (read once)."""
        if self._manifests is None:
            found = {}
            for path in sorted(self.models_dir.glob(f"*/{MANIFEST_FILE}")):
                manifest = load_manifest(path.parent)
                found[manifest.name] = manifest
            self._manifests = found
        return self._manifests

    def manifest(self, name: str) -> ModelManifest:
        """The manifest of one model.

        Raises:
            ModelNotFoundError: No model of that name is installed.
        """
        try:
            return self.manifests()[name]
        except KeyError as exc:
            raise ModelNotFoundError(f"model {name!r} not found", param="name") from exc

    def get(self, name: str) -> Model:
        """The loaded model, opening its session on first use."""
        model = self._models.get(name)
        if model is not None:
            return model
        manifest = self.manifest(name)
        with self._lock:
            lock = self._model_locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._models:
                self._models[name] = self._load(manifest)
            return self._models[name]

    def preload(self, names: Iterable[str]) -> None:
        """Open sessions ahead of the first request (e.g. during Lambda's init phase)."""
        for name in names:
            self.get(name)

    def _load(self, manifest: ModelManifest) -> Model:
        variant = self._pick_variant(manifest)
        started = time.perf_counter()
        session = open_session(
            manifest.artifact_path(variant),
            threads=self.threads,
            preoptimized=variant in PREOPTIMIZED,
            prefer_gpu=self.prefer_gpu,
        )
        model = Model(manifest, session, processor_for(manifest), variant)
        logger.info(
            "loaded %s v%s (%s) in %.1f ms",
            manifest.name, manifest.version, variant, (time.perf_counter() - started) * 1e3,
        )  # fmt: skip
        return model

    def _pick_variant(self, manifest: ModelManifest) -> str:
        for variant in self.variants:
            if variant in PREOPTIMIZED and not _preoptimized_here(manifest):
                continue
            if variant in manifest.artifacts and manifest.artifact_path(variant).is_file():
                return variant
        raise ModelLoadError(
            f"model {manifest.name!r} has none of the artifacts {list(self.variants)} on disk"
        )


def _preoptimized_here(manifest: ModelManifest) -> bool:
    """A pre-optimized graph holds fused CPU kernels of one onnxruntime version."""
    optimized = manifest.extra.get("optimized") or {}
    return bool(optimized.get("onnxruntime") == ort_version() and not cuda_available())
