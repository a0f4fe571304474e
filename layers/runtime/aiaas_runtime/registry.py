"""The layer's models: manifests found in a directory, each opened once, on first use.

Opened models live in a `ModelPool` (shared with every other model the process serves when
the caller passes one), keyed by ``("layer", name)``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from aiaas_runtime import blocks as block_weights
from aiaas_runtime.errors import ModelLoadError, ModelNotFoundError
from aiaas_runtime.manifest import MANIFEST_FILE, ModelManifest, load_manifest
from aiaas_runtime.model import Model, SessionRunner
from aiaas_runtime.pool import ModelPool, Opened
from aiaas_runtime.session import cuda_available, open_session, ort_version
from aiaas_runtime.tasks import processor_for

logger = logging.getLogger(__name__)

# Served artifact, best first. A pre-optimized file skips graph optimization at load.
DEFAULT_VARIANTS = ("int8_optimized", "int8", "fp32")
PREOPTIMIZED = {"int8_optimized"}


class ModelRegistry:
    """Finds manifests under ``models_dir`` (those named in ``only``, when given) and keeps
    loaded models for warm invocations.

    Thread-safe: concurrent first requests for one model open a single session.
    """

    def __init__(
        self,
        models_dir: Path,
        *,
        variants: Iterable[str] = DEFAULT_VARIANTS,
        threads: int | None = None,
        prefer_gpu: bool = True,
        pool: ModelPool[Model] | None = None,
        only: Iterable[str] | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.variants = tuple(variants)
        self.threads = threads
        self.prefer_gpu = prefer_gpu
        self.pool: ModelPool[Model] = pool if pool is not None else ModelPool(max_items=64)
        self.only = frozenset(only) if only is not None else None
        self._manifests: dict[str, ModelManifest] | None = None
        self._lock = threading.Lock()

    def manifests(self) -> dict[str, ModelManifest]:
        """All installed manifests by name (read once; none where the directory is absent)."""
        if self._manifests is None:
            with self._lock:
                found = {}
                for path in sorted(self.models_dir.glob(f"*/{MANIFEST_FILE}")):
                    manifest = load_manifest(path.parent)
                    if self.only is None or manifest.name in self.only:
                        found[manifest.name] = manifest
                self._manifests = found
        return self._manifests

    def __contains__(self, name: str) -> bool:
        return name in self.manifests()

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
        manifest = self.manifest(name)
        return self.pool.get(("layer", name), lambda: self._load(manifest))

    def preload(self, names: Iterable[str], *, background: bool = False) -> threading.Thread | None:
        """Open sessions ahead of the first request (e.g. during Lambda's init phase).

        With ``background``, a daemon thread opens them while the caller goes on with a
        function's remaining imports (onnxruntime holds the GIL for most of a session's
        creation, so the overlap is partial: ~40 ms of MiniLM's cold start, bench/); a first
        request for one of them waits for that single open (the pool's per-key lock). A model
        that fails to open there is logged, and its first request tries again and answers the
        error. Returns the thread, if one was started.
        """
        wanted = list(names)
        if not background:
            for name in wanted:
                self.get(name)
            return None
        if not wanted:
            return None
        thread = threading.Thread(
            target=self._preload_quietly, args=(wanted,), name="aiaas-preload", daemon=True
        )
        thread.start()
        return thread

    def _preload_quietly(self, names: list[str]) -> None:
        for name in names:
            try:
                self.get(name)
            except Exception:  # the request that needs it gets the error
                logger.warning("could not preload model %s", name, exc_info=True)

    def _load(self, manifest: ModelManifest) -> Opened[Model]:
        variant = self._pick_variant(manifest)
        started = time.perf_counter()
        graph = manifest.artifact_path(variant)
        blocks = manifest.artifact_path("blocks") if "blocks" in manifest.artifacts else None
        session = open_session(
            graph,
            threads=self.threads,
            preoptimized=variant in PREOPTIMIZED,
            prefer_gpu=self.prefer_gpu,
            blocks=blocks,
        )
        model = Model(manifest, SessionRunner(session), processor_for(manifest), variant)
        logger.info(
            "loaded %s v%s (%s) in %.1f ms",
            manifest.name, manifest.version, variant, (time.perf_counter() - started) * 1e3,
        )  # fmt: skip
        files = {role: manifest.artifact_path(role) for role in manifest.artifacts}
        return Opened(model, block_weights.model_resident_bytes(graph, files))

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
