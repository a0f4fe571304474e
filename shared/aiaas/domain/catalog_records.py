"""Catalog records: models (per tenant namespace) and their versions, and the store interface."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

Visibility = Literal["private", "public"]
Runtime = Literal["cpu", "gpu"]
Status = Literal["PENDING_UPLOAD", "VALIDATING", "READY", "FAILED"]
ScoresKind = Literal["probabilities", "logits"]
BUILTIN_TENANT = "aiaas"  # owner of the models shipped in the layer


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """A model: a name in its tenant's namespace, with versions.

    What its owner declares at creation tells the platform how to serve it at task level
    (the same answers a built-in gives), all optional:

    Attributes:
        labels: Class names in score order (classifiers); default ``"0"``, ``"1"``...
        features: Feature names in column order (tabular); default ``x0``, ``x1``...
        output: The graph output that holds scores (classifiers) or vectors (embeddings);
            default: the last 2-D float output, ``sentence_embedding`` where there is one.
        scores_kind: Whether that output holds ``probabilities`` or ``logits``.
        preprocessing: Task input settings: images ``height``, ``width``, ``channels``,
            ``mean``, ``std``, ``pixel_max``; texts ``max_length``, ``max_chars``.
        detection: How an object detector's outputs read (``format`` yolo or ssd, output
            names, box format, ``min_score``, ``iou_threshold``).
    """

    tenant: str
    name: str
    task: str
    description: str
    visibility: Visibility
    runtime: Runtime
    created_at: int
    default_version: int | None = None
    deleted: bool = False
    labels: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    output: str = ""
    scores_kind: ScoresKind = "probabilities"
    preprocessing: dict[str, Any] = field(default_factory=dict)
    detection: dict[str, Any] = field(default_factory=dict)

    def visible_to(self, tenant: str) -> bool:
        """Public models are everyone's; private ones their tenant's."""
        return not self.deleted and (self.visibility == "public" or self.tenant == tenant)

    def with_changes(self, **changes: Any) -> CatalogModel:
        """A copy with fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One uploaded (or built-in) version and what registration found out about it.

    ``artifacts`` maps roles (``fp32``, ``int8``, ``tokenizer``) to URIs (``s3://...``, or
    ``layer:<name>/<file>`` for a built-in the models layer carries) and ``digests`` to their
    sha256. ``manifest`` is the build's manifest of a built-in seeded into S3. ``training``
    is set on a version the platform trained: its job, typed input ``columns``, ``labels``,
    test-set ``metrics``, and where its background sample and column baselines are.
    ``background`` is the explanations' background its owner uploaded (``uri``, ``sha256``,
    ``rows``). ``capture`` is its data capture setting (``sample_percent``). ``baseline``
    is the drift baseline its owner set (``uri``, ``rows``, ``source``: ``upload`` or
    ``captures``), over the one training wrote.
    """

    tenant: str
    name: str
    version: int
    status: Status
    created_at: int
    upload_key: str = ""
    reason: str = ""
    sha256: str = ""
    size: int = 0
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    digests: dict[str, str] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    upload_etag: str = ""
    ignored_uploads: int = 0
    training: dict[str, Any] = field(default_factory=dict)
    background: dict[str, Any] = field(default_factory=dict)
    capture: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)

    def digest(self, role: str) -> str:
        """The sha256 of one artifact (``fp32``, ``int8``, ``tokenizer``...)."""
        if role in self.digests:
            return self.digests[role]
        if role == "fp32":
            return self.sha256
        return str((self.quality.get(role) or {}).get("sha256", ""))

    def public(self) -> dict[str, Any]:
        """The API's view of the version."""
        return {
            "version": self.version,
            "status": self.status,
            "reason": self.reason or None,
            "created": self.created_at,
            "sha256": self.sha256 or None,
            "size": self.size or None,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "quality": self.quality,
            "latency": self.latency,
            "variants": sorted(self.artifacts),
            "ignored_uploads": self.ignored_uploads,
            "training": self.training or None,
            "background": {"rows": self.background["rows"]} if self.background else None,
            "capture": self.capture or None,
            "baseline": self._baseline(),
        }

    def _baseline(self) -> dict[str, Any] | None:
        if self.baseline:
            return {"rows": self.baseline.get("rows"), "source": self.baseline.get("source")}
        if self.training.get("baseline"):
            return {"rows": None, "source": "training"}
        return None


class CatalogStore(Protocol):
    """Models and versions."""

    def create_model(self, model: CatalogModel) -> None:
        """Store a new model; Conflict if the tenant already has the name."""
        ...

    def get_model(self, tenant: str, name: str) -> CatalogModel | None:
        """A model of this tenant's namespace."""
        ...

    def public_models(self) -> list[CatalogModel]:
        """All public models."""
        ...

    def tenant_models(self, tenant: str) -> list[CatalogModel]:
        """All models of one tenant (private and public)."""
        ...

    def save_model(self, model: CatalogModel) -> None:
        """Overwrite a model's attributes."""
        ...

    def next_version(self, tenant: str, name: str) -> int:
        """Atomically allocate the next version number."""
        ...

    def put_version(self, version: ModelVersion) -> None:
        """Store or overwrite a version."""
        ...

    def get_version(self, tenant: str, name: str, version: int) -> ModelVersion | None:
        """One version."""
        ...

    def versions(self, tenant: str, name: str) -> list[ModelVersion]:
        """All versions of a model, oldest first."""
        ...

    def start_validation(self, tenant: str, name: str, version: int, etag: str = "") -> bool:
        """PENDING_UPLOAD -> VALIDATING, atomically, noting the upload's ETag; False if it was
        not pending (a replay, or a later upload)."""
        ...

    def count_ignored_upload(self, tenant: str, name: str, version: int) -> None:
        """Count an upload that came after the version had taken its one."""
        ...
