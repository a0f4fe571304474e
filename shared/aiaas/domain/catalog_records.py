"""Catalog records: models (per tenant namespace) and their versions, and the store interface."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

Visibility = Literal["private", "public"]
Runtime = Literal["cpu", "gpu"]
Status = Literal["PENDING_UPLOAD", "VALIDATING", "READY", "FAILED"]
BUILTIN_TENANT = "aiaas"  # owner of the models shipped in the layer


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """A model: a name in its tenant's namespace, with versions."""

    tenant: str
    name: str
    task: str
    description: str
    visibility: Visibility
    runtime: Runtime
    created_at: int
    default_version: int | None = None
    deleted: bool = False

    def visible_to(self, tenant: str) -> bool:
        """Public models are everyone's; private ones their tenant's."""
        return not self.deleted and (self.visibility == "public" or self.tenant == tenant)

    def with_changes(self, **changes: Any) -> CatalogModel:
        """A copy with fields changed."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One uploaded (or built-in) version and what registration found out about it."""

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
        }


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

    def start_validation(self, tenant: str, name: str, version: int) -> bool:
        """PENDING_UPLOAD -> VALIDATING, atomically; False if it was not pending (a replay)."""
        ...
