"""onnxruntime sessions tuned for Lambda: threads, graph optimization, execution provider."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import onnxruntime as ort

from aiaas_runtime import blocks as block_weights
from aiaas_runtime.errors import ModelLoadError

logger = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# onnxruntime's session optimizer fuses Add (+ bias Add) + LayerNormalization into its
# SkipLayerNormalization, whose CPU kernel (onnxruntime 1.32) is the slower of the two: 27 vs
# 10 us for 23 rows of 384, 614 vs 81 us for 608 rows (bench/README.md, 2026-12-07). MiniLM's
# graphs keep the plain ops, and no CPU session fuses them back (CUDA's fused kernel is the
# faster one there, so a session that may run on the GPU keeps the optimizer).
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


def available_cpus() -> int:
    """Return the CPUs this process may actually use.

    Lambda gives a function vCPUs in proportion to its memory (1 at 1,769 MB, up to 6); a
    container may be limited by a CPU quota. ``os.cpu_count()`` sees neither, so look at the
    affinity mask and the cgroup v2 quota.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cgroup_cpu_quota(Path("/sys/fs/cgroup/cpu.max"))
    return max(1, min(cpus or 1, quota or cpus or 1))


def _cgroup_cpu_quota(path: Path) -> int | None:
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, int(int(quota) / int(period)))


def ort_version() -> str:
    """The onnxruntime version this process runs."""
    return str(ort.__version__)


def cuda_available() -> bool:
    """Whether this onnxruntime build offers the CUDA provider."""
    return CUDA in ort.get_available_providers()


def choose_providers(prefer_gpu: bool = True) -> list[str]:
    """Pick execution providers at run time: CUDA when this onnxruntime build offers it.

    The CPU wheel (Lambda) only has the CPU provider; the GPU container's onnxruntime-gpu
    adds CUDA, and CPU stays last as onnxruntime's own fallback.
    """
    if prefer_gpu and cuda_available():
        return [CUDA, CPU]
    return [CPU]


def session_options(threads: int | None = None, *, preoptimized: bool = False) -> Any:
    """Build session options for one-request-at-a-time serving.

    Args:
        threads: Intra-op threads; defaults to the CPUs actually available.
        preoptimized: The file was saved already optimized by onnxruntime (extended level),
            so skip graph optimization at load: session creation drops ~35 %.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or available_cpus()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        if preoptimized
        else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    # The pool's threads spin while a run lasts (onnxruntime's default: turning spinning off
    # costs ~0.5 ms per run here) but stop when it returns: otherwise they go on spinning
    # after it, over the handler's own work (and Lambda's CPU quota), and over the next run
    # of another session in the process, which then took twice as long (measured in bench/:
    # MiniLM int8 at batch 1, 4.0 -> 2.9 ms right after an fp32 run). One session alone runs
    # as fast either way.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.log_severity_level = 3
    return options


def open_session(
    path: Path,
    *,
    threads: int | None = None,
    preoptimized: bool = False,
    prefer_gpu: bool = True,
    blocks: Path | None = None,
) -> Any:
    """Open an inference session on the best available provider.

    Args:
        blocks: The block-quantized weights of a graph whose large initializers are
            external (`aiaas_runtime.blocks`), expanded to fp32 and kept alive with the
            session (onnxruntime uses their memory as it is).

    Raises:
        ModelLoadError: The file is missing or onnxruntime cannot load it.
    """
    providers = choose_providers(prefer_gpu)
    options = session_options(threads, preoptimized=preoptimized)
    external: list[Any] = []
    if blocks is not None:
        weights = block_weights.load(blocks)
        external = [ort.OrtValue.ortvalue_from_numpy(value) for value in weights.values()]
        options.add_external_initializers(list(weights), external)
    try:
        session = ort.InferenceSession(
            str(path),
            sess_options=options,
            providers=providers,
            disabled_optimizers=[] if CUDA in providers else list(DISABLED_OPTIMIZERS),
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelLoadError(f"cannot open {path.name}: {exc}") from exc
    session.external_weights = external  # their memory must outlive the session
    if prefer_gpu and CUDA in providers and CUDA not in session.get_providers():
        logger.warning("CUDA provider unavailable for %s; running on CPU", path.name)
    return session
