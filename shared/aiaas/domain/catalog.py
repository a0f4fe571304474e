"""The model catalog: browse, create, version and upload, change and delete models."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from aiaas.auth.principal import Principal
from aiaas.domain.catalog_records import (
    BUILTIN_TENANT,
    CatalogModel,
    CatalogStore,
    ModelVersion,
    Runtime,
    ScoresKind,
    Visibility,
)
from aiaas.domain.pricing import (
    DEFAULT_SERVING_MEMORY_MB,
    PriceConfig,
    priced_audio,
    priced_latency,
    priced_tokens,
)
from aiaas.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:  # CatalogFunction has the runtime; AuthFunction imports this module without
    from aiaas_runtime import ModelManifest

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}[a-z0-9]$")
TASKS = (
    "embedding",
    "text-classification",
    "tabular-classification",
    "tabular-regression",
    "image-classification",
    "object-detection",
    "custom",
)


class WeightStore(Protocol):
    """Where weights are uploaded to and kept (S3)."""

    def presign(self, key: str, max_bytes: int, expires: int) -> dict[str, Any]:
        """``{"url", "fields"}`` a client POSTs the file to."""
        ...

    def mark_deleted(self, uri: str) -> None:
        """Let the retention rule expire an artifact of a deleted model or version."""
        ...

    def write(self, key: str, data: bytes) -> str:
        """Store a file (encrypted); its URI."""
        ...


TOKENIZER_FILE = "tokenizer.json"
MAX_BACKGROUND_ROWS = 1000
MAX_TOKENIZER_BYTES = 32 * 1024 * 1024


def upload_key(
    tenant: str, name: str, version: int, file: str = "model.onnx", form: str = ""
) -> str:
    """Where a version's file is uploaded; the S3 event on ``model.onnx`` starts registration
    (an embedding model's ``tokenizer.json`` goes beside it, first). ``form`` makes the key
    the form's own: a version takes one upload, through the one form it was given."""
    return f"uploads/{tenant}/{name}/{version}/{form + '/' if form else ''}{file}"


def parse_upload_key(key: str) -> tuple[str, str, int]:
    """(tenant, name, version) of an upload key; InvalidInput for anything else."""
    parts = key.split("/")
    if (
        len(parts) not in (5, 6)
        or parts[0] != "uploads"
        or parts[-1] != "model.onnx"
        or not parts[3].isdigit()
    ):
        raise InvalidInput(f"not an upload key: {key!r}")
    return parts[1], parts[2], int(parts[3])


class CaptureFiles(Protocol):
    """Where a version's captured requests are (S3), newest first, with download links."""

    def list(self, tenant: str, model: str, version: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` files: ``{"key", "size", "url"}``."""
        ...


class CatalogService:
    """Catalog operations for a caller; a tenant never sees another tenant's private models."""

    def __init__(
        self,
        store: CatalogStore,
        weights: WeightStore,
        *,
        admin_tenants: Iterable[str] = (),
        max_upload_bytes: int = 200 * 1024 * 1024,
        upload_expires: int = 900,
        capture_files: CaptureFiles | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.weights = weights
        self.capture_files = capture_files
        self.admin_tenants = frozenset(admin_tenants)
        self.max_upload_bytes = max_upload_bytes
        self.upload_expires = upload_expires
        self.clock = clock

    def visible(self, caller: Principal, task: str | None = None) -> list[CatalogModel]:
        """Public models and the caller's own, by name (own first on a name clash)."""
        found: dict[str, CatalogModel] = {}
        for model in self.store.public_models() + self.store.tenant_models(caller.tenant):
            wanted = model.visible_to(caller.tenant) and task in (None, model.task)
            if wanted and (model.name not in found or model.tenant == caller.tenant):
                found[model.name] = model
        return [found[name] for name in sorted(found)]

    def resolve(self, caller: Principal, name: str) -> CatalogModel:
        """The caller's model of that name, else a public one; NotFound otherwise."""
        own = self.store.get_model(caller.tenant, name)
        if own is not None and not own.deleted:
            return own
        for model in self.store.public_models():
            if model.name == name and not model.deleted:
                return model
        raise NotFound(f"model {name!r} not found", param="name")

    def owned(self, caller: Principal, name: str) -> CatalogModel:
        """A model the caller may change (its own tenant's)."""
        model = self.store.get_model(caller.tenant, name)
        if model is None or model.deleted:
            raise NotFound(f"model {name!r} not found", param="name")
        return model

    def versions(self, model: CatalogModel) -> list[ModelVersion]:
        """The model's live versions."""
        return [v for v in self.store.versions(model.tenant, model.name) if not v.deleted]

    def version(self, model: CatalogModel, number: int) -> ModelVersion:
        """One live version; NotFound otherwise."""
        found = self.store.get_version(model.tenant, model.name, number)
        if found is None or found.deleted:
            raise NotFound(f"model {model.name!r} has no version {number}", param="version")
        return found

    def create(
        self,
        caller: Principal,
        *,
        name: str,
        task: str,
        description: str,
        visibility: Visibility,
        runtime: Runtime,
        labels: Sequence[str] = (),
        features: Sequence[str] = (),
        output: str = "",
        scores_kind: ScoresKind = "probabilities",
        preprocessing: Mapping[str, Any] | None = None,
        detection: Mapping[str, Any] | None = None,
    ) -> CatalogModel:
        """A new model in the caller's namespace (``public`` only for an admin tenant).

        ``labels``, ``features``, ``output``, ``scores_kind``, ``preprocessing`` and
        ``detection`` declare
        how to serve it (see `CatalogModel`); registration checks them against the graph.
        """
        if not NAME.match(name):
            raise InvalidInput(
                "name: 3-64 characters of a-z, 0-9, '.', '_', '-', starting and ending with "
                "a letter or digit",
                param="name",
            )
        if visibility == "public" and caller.tenant not in self.admin_tenants:
            raise Forbidden("only an admin may publish a public model", param="visibility")
        if any(m.name == name for m in self.store.public_models()):
            raise Conflict(f"model {name!r} already exists as a public model", param="name")
        model = CatalogModel(
            tenant=caller.tenant,
            name=name,
            task=task,
            description=description,
            visibility=visibility,
            runtime=runtime,
            created_at=int(self.clock()),
            labels=list(labels),
            features=list(features),
            output=output,
            scores_kind=scores_kind,
            preprocessing=dict(preprocessing or {}),
            detection=dict(detection or {}),
        )
        self.store.create_model(model)
        return model

    def new_version(self, caller: Principal, name: str) -> tuple[ModelVersion, dict[str, Any]]:
        """Allocate a version waiting for its upload, and the presigned POST to upload it."""
        model = self.owned(caller, name)
        number = self.store.next_version(model.tenant, model.name)
        form_id = secrets.token_hex(8)  # the form's own key: one upload per version
        key = upload_key(model.tenant, model.name, number, form=form_id)
        version = ModelVersion(
            tenant=model.tenant,
            name=model.name,
            version=number,
            status="PENDING_UPLOAD",
            created_at=int(self.clock()),
            upload_key=key,
        )
        self.store.put_version(version)
        upload = self.weights.presign(key, self.max_upload_bytes, self.upload_expires)
        form = {**upload, "expires_in": self.upload_expires, "max_bytes": self.max_upload_bytes}
        if model.task == "embedding":  # upload tokenizer.json first to embed texts
            tokenizer = upload_key(model.tenant, model.name, number, TOKENIZER_FILE, form_id)
            form["tokenizer"] = self.weights.presign(
                tokenizer, MAX_TOKENIZER_BYTES, self.upload_expires
            )
        return version, form

    def put_background(
        self, caller: Principal, name: str, number: int, rows: Sequence[Any]
    ) -> ModelVersion:
        """Store the rows explanations of this version average over (its background),
        replacing any before; each row as the predict route takes one (an array, or an
        object keyed by feature name)."""
        version = self.version(self.owned(caller, name), number)
        if not rows or len(rows) > MAX_BACKGROUND_ROWS:
            raise InvalidInput(f"rows: 1 to {MAX_BACKGROUND_ROWS} background rows", param="rows")
        if any(not isinstance(r, list | dict) for r in rows):
            raise InvalidInput("rows: each row is an array or an object", param="rows")
        data = json.dumps({"rows": list(rows)}, separators=(",", ":")).encode()
        key = f"{version.tenant}/{version.name}/{version.version}/background.json"
        uri = self.weights.write(key, data)
        background = {"uri": uri, "sha256": hashlib.sha256(data).hexdigest(), "rows": len(rows)}
        updated = replace(version, background=background)
        self.store.put_version(updated)
        return updated

    def set_capture(
        self, caller: Principal, name: str, number: int, sample_percent: float
    ) -> ModelVersion:
        """Turn a version's data capture on (``sample_percent`` of the owner's requests kept)
        or off (0). Warm functions see it within ``catalog_cache_seconds``."""
        version = self.version(self.owned(caller, name), number)
        if not 0 <= sample_percent <= 100:
            raise InvalidInput("capture.sample_percent: 0 to 100", param="capture.sample_percent")
        capture = {"sample_percent": sample_percent} if sample_percent else {}
        updated = replace(version, capture=capture)
        self.store.put_version(updated)
        return updated

    def captures(self, caller: Principal, name: str, number: int, limit: int) -> list[Any]:
        """The newest capture files of one of the caller's versions, with download links."""
        version = self.version(self.owned(caller, name), number)
        if self.capture_files is None:
            raise Unavailable("data capture is not configured for this function")
        return self.capture_files.list(version.tenant, version.name, version.version, limit)

    def update(self, caller: Principal, name: str, changes: dict[str, Any]) -> CatalogModel:
        """Change description, visibility or default version."""
        model = self.owned(caller, name)
        if changes.get("visibility") == "public" and caller.tenant not in self.admin_tenants:
            raise Forbidden("only an admin may publish a public model", param="visibility")
        default = changes.get("default_version")
        if default is not None and self.version(model, default).status != "READY":
            raise Conflict(f"version {default} is not READY", param="default_version")
        updated = model.with_changes(**{k: v for k, v in changes.items() if v is not None})
        self.store.save_model(updated)
        return updated

    def delete(self, caller: Principal, name: str, number: int | None = None) -> None:
        """Stop serving a model or one version (weights stay, under the bucket's lifecycle)."""
        model = self.owned(caller, name)
        doomed = self.versions(model) if number is None else [self.version(model, number)]
        for version in doomed:
            for uri in version.artifacts.values():
                self.weights.mark_deleted(uri)
            if number is not None:
                self.store.put_version(replace(version, deleted=True))
        if number is None:
            self.store.save_model(model.with_changes(deleted=True))
        elif model.default_version == number:
            self.store.save_model(model.with_changes(default_version=None))

    def seed_builtins(
        self,
        manifests: Iterable[ModelManifest],
        stored: Callable[[ModelManifest], StoredWeights] | None = None,
    ) -> list[str]:
        """Make built-in models public catalog entries, once (see `seed_builtins`)."""
        return seed_builtins(self.store, manifests, stored, now=int(self.clock()))


def seed_builtins(
    store: CatalogStore,
    manifests: Iterable[ModelManifest],
    stored: Callable[[ModelManifest], StoredWeights] | None = None,
    *,
    now: int,
    gpu: Collection[str] = (),
) -> list[str]:
    """Make built-in models public catalog entries, once (idempotent); the names seeded.

    Args:
        store: The catalog's store.
        manifests: Their build manifests.
        stored: Where each one's weights are (``aiaas.registration.seed`` uploads them to S3
            first); default: the models layer.
        now: Creation time (epoch seconds).
        gpu: Built-ins served by the GPU container (runtime ``gpu``); the rest run on CPU.
    """
    seeded = []
    for manifest in manifests:
        model = CatalogModel(
            tenant=BUILTIN_TENANT,
            name=manifest.name,
            task=manifest.task,
            description=manifest.description,
            visibility="public",
            runtime="gpu" if manifest.name in gpu else "cpu",
            created_at=now,
            default_version=1,
            # what the console's form and the catalog show (serving reads the manifest)
            features=list(manifest.preprocessing.get("features") or []),
        )
        try:
            store.create_model(model)
        except Conflict:
            continue
        weights = stored(manifest) if stored is not None else in_layer(manifest)
        store.put_version(builtin_version(manifest, now, weights))
        seeded.append(manifest.name)
    return seeded


@dataclass(frozen=True, slots=True)
class StoredWeights:
    """Where a built-in's files are: artifact URIs and sha256 by role, and (for S3) the build
    manifest the loader reads the model's task settings from."""

    artifacts: dict[str, str]
    digests: dict[str, str]
    manifest: dict[str, Any]


def served_role(manifest: ModelManifest) -> str:
    """The file a built-in serves on CPU: int8, or fp32 where int8 failed its build's gate."""
    return "int8" if "int8" in manifest.artifacts else "fp32"


def in_layer(manifest: ModelManifest) -> StoredWeights:
    """A built-in the models layer carries: its CPU file there."""
    role = served_role(manifest)
    served = manifest.artifacts[role]
    return StoredWeights({role: f"layer:{manifest.name}/{served.file}"}, {role: served.sha256}, {})


def builtin_latency(manifest: ModelManifest) -> dict[str, Any]:
    """The build's latency profile of the served file, priced like a registered model's at
    the serving function's default memory (the template's 2,048 MB), a chat model's per
    generated token and a speech model's per hour of audio at ChatFunction's; {} without
    one."""
    measured = manifest.extra.get("latency") or {}
    if not measured.get("p50_ms"):
        return {}
    if manifest.task == "chat":  # generated tokens, at ChatFunction's memory
        return {**measured, **priced_tokens(measured, served_role(manifest))}
    if manifest.task == "speech-recognition":  # hours of audio, at ChatFunction's memory
        return {**measured, **priced_audio(measured, served_role(manifest))}
    p50 = {int(batch): float(ms) for batch, ms in measured["p50_ms"].items()}
    price = PriceConfig(memory_mb=DEFAULT_SERVING_MEMORY_MB)
    return {
        **measured,
        **priced_latency(p50, int(measured["threads"]), served_role(manifest), price),
    }


def builtin_version(
    manifest: ModelManifest, created_at: int, stored: StoredWeights
) -> ModelVersion:
    """Version 1 of a built-in model, READY, described by its manifest."""
    return ModelVersion(
        tenant=BUILTIN_TENANT,
        name=manifest.name,
        version=1,
        status="READY",
        created_at=created_at,
        inputs=[t.to_dict() for t in manifest.serving_inputs],
        outputs=[t.to_dict() for t in manifest.outputs],
        quality=manifest.quality,
        latency=builtin_latency(manifest),
        sha256=manifest.artifacts[served_role(manifest)].sha256,
        size=manifest.artifacts[served_role(manifest)].size,
        artifacts=stored.artifacts,
        digests=stored.digests,
        manifest=stored.manifest,
    )
