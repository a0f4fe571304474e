"""Model manifests: the JSON file that describes one built model and its artifacts.

A model directory holds ``manifest.json`` beside its artifacts::

    <models_dir>/<name>/manifest.json
    <models_dir>/<name>/model.int8.onnx      (served on CPU, shipped in the layer)
    <models_dir>/<name>/model.fp32.onnx      (kept for S3 / GPU; not in the layer)
    <models_dir>/<name>/tokenizer.json       (text models)

The schema is documented field by field in ``docs``-style comments on the dataclasses below;
``modelzoo/`` writes it and this module is the only reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from aiaas_runtime.errors import ModelLoadError

Task = Literal[
    "embedding",
    "text-classification",
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "face-detection",
    "object-detection",
    "ocr",
    "chat",
    "speech-recognition",
    "custom",
]
TASKS: tuple[Task, ...] = get_args(Task)
MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One input or output tensor, in Open Inference Protocol terms.

    Attributes:
        name: Tensor name in the ONNX graph.
        datatype: Open Inference Protocol datatype (``FP32``, ``INT64``, ``BYTES``...).
        shape: Dimensions, ``-1`` for a dynamic one (batch, sequence).
    """

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form used in manifests and API responses."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True, slots=True)
class Artifact:
    """One file of a model, with the digest the runtime may verify."""

    file: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class ModelManifest:
    """Everything the runtime needs to know about a model, read from ``manifest.json``.

    Attributes:
        name: Model id, used in URLs (``all-minilm-l6-v2``).
        version: Version string (``"1"``).
        task: What the model does; selects pre- and post-processing.
        description: One-line human description.
        inputs: Tensors the ONNX graph takes (raw model inputs, before preprocessing).
        outputs: Tensors the ONNX graph returns.
        labels: Class names for classifiers, in output index order; empty otherwise.
        preprocessing: Task-specific input settings (see ``aiaas_runtime.tasks``).
        postprocessing: Task-specific output settings (which output holds what).
        limits: ``max_batch_size`` (rows per session run) and ``max_items`` (per request).
        artifacts: Files by role: ``int8``, ``fp32``, ``tokenizer``...
        quality: fp32 vs int8 quality measured at build time.
        extra: Any other fields, kept so the catalog can show them.
        directory: Where the files live.
    """

    name: str
    version: str
    task: Task
    description: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    labels: tuple[str, ...]
    preprocessing: dict[str, Any]
    postprocessing: dict[str, Any]
    limits: dict[str, int]
    artifacts: dict[str, Artifact]
    quality: dict[str, Any]
    directory: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_batch_size(self) -> int:
        """Rows per session run; larger requests are split."""
        return int(self.limits.get("max_batch_size", 32))

    @property
    def max_items(self) -> int:
        """Most inputs one request may carry."""
        return int(self.limits.get("max_items", 256))

    @property
    def serving_inputs(self) -> tuple[TensorSpec, ...]:
        """The tensors a client sends: texts (BYTES) for text models (embeddings, text
        classifiers) with a tokenizer, the graph's otherwise."""
        if self.task in ("embedding", "text-classification") and "tokenizer" in self.artifacts:
            return (TensorSpec(name="text", datatype="BYTES", shape=(-1,)),)
        return self.inputs

    def artifact_path(self, role: str) -> Path:
        """Return the path of the artifact with this role.

        Raises:
            ModelLoadError: The manifest names no such artifact.
        """
        try:
            return self.directory / self.artifacts[role].file
        except KeyError as exc:
            raise ModelLoadError(f"model {self.name!r} has no {role!r} artifact") from exc

    def to_dict(self) -> dict[str, Any]:
        """Return the public JSON description (no file system paths)."""
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "description": self.description,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "labels": list(self.labels),
            "limits": dict(self.limits),
            "quality": self.quality,
            **self.extra,
        }


def _tensors(raw: list[dict[str, Any]]) -> tuple[TensorSpec, ...]:
    return tuple(
        TensorSpec(name=str(t["name"]), datatype=str(t["datatype"]), shape=tuple(t["shape"]))
        for t in raw
    )


_KNOWN = {
    "schema_version", "name", "version", "task", "description", "inputs", "outputs", "labels",
    "preprocessing", "postprocessing", "limits", "artifacts", "quality",
}  # fmt: skip


def parse_manifest(raw: dict[str, Any], directory: Path) -> ModelManifest:
    """Build a manifest from its JSON form.

    Raises:
        ModelLoadError: A field is missing or has the wrong type.
    """
    try:
        if raw.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema_version {raw.get('schema_version')!r}")
        if raw["task"] not in TASKS:
            raise ValueError(f"unknown task {raw['task']!r}")
        return ModelManifest(
            name=str(raw["name"]),
            version=str(raw["version"]),
            task=cast(Task, raw["task"]),
            description=str(raw.get("description", "")),
            inputs=_tensors(raw["inputs"]),
            outputs=_tensors(raw["outputs"]),
            labels=tuple(str(label) for label in raw.get("labels") or ()),
            preprocessing=dict(raw.get("preprocessing") or {}),
            postprocessing=dict(raw.get("postprocessing") or {}),
            limits={k: int(v) for k, v in (raw.get("limits") or {}).items()},
            artifacts={
                role: Artifact(file=str(a["file"]), sha256=str(a["sha256"]), size=int(a["size"]))
                for role, a in raw["artifacts"].items()
            },
            quality=dict(raw.get("quality") or {}),
            directory=directory,
            extra={k: v for k, v in raw.items() if k not in _KNOWN},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"bad manifest in {directory}: {exc!r}") from exc


def load_manifest(directory: Path) -> ModelManifest:
    """Read ``manifest.json`` from a model directory.

    Raises:
        ModelLoadError: The file is missing, not JSON, or not a valid manifest.
    """
    path = directory / MANIFEST_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} is not a JSON object")
    return parse_manifest(raw, directory)
