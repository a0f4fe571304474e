"""Task processors, chosen by the manifest's ``task``."""

from __future__ import annotations

from aiaas_runtime.manifest import ModelManifest
from aiaas_runtime.tasks.base import PredictParams, TaskProcessor


def processor_for(manifest: ModelManifest) -> TaskProcessor:
    """Build the pre/post-processor for a manifest's task."""
    if manifest.task == "embedding":
        from aiaas_runtime.tasks.text import EmbeddingProcessor  # noqa: PLC0415

        return EmbeddingProcessor(manifest)
    if manifest.task == "text-classification" and "tokenizer" in manifest.artifacts:
        from aiaas_runtime.tasks.text import TextClassificationProcessor  # noqa: PLC0415

        return TextClassificationProcessor(manifest)
    if manifest.task in ("tabular-classification", "tabular-regression") and (
        manifest.preprocessing.get("columns")
    ):
        from aiaas_runtime.tasks.table import TableProcessor  # noqa: PLC0415

        return TableProcessor(manifest)
    if manifest.task == "tabular-classification":
        from aiaas_runtime.tasks.tabular import TabularProcessor  # noqa: PLC0415

        return TabularProcessor(manifest)
    if manifest.task == "image-classification":
        from aiaas_runtime.tasks.image import ImageProcessor  # noqa: PLC0415

        return ImageProcessor(manifest)
    from aiaas_runtime.tasks.raw import RawProcessor  # noqa: PLC0415

    return RawProcessor(manifest)


__all__ = ["PredictParams", "TaskProcessor", "processor_for"]
