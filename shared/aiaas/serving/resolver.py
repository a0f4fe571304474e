"""One resolver: ``(caller, name, version)`` -> the model to run, for every kind of model.

- The models layer's built-ins are found by name, with no AWS call (a tenant cannot take a
  public name, so no catalog lookup is needed to know what a built-in name means).
- Every other name is a catalog model: the caller's own, else a public one (visibility is
  checked here and nowhere else). Its records are cached for ``ttl_s`` seconds, so a warm
  repeated request makes no DynamoDB read; a delete, a new default version or a new
  visibility shows within that time on each warm function instance.
- Opened models of both kinds live in one `ModelPool`, capped by count and estimated memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiaas.auth.principal import Principal
from aiaas.domain.catalog import CatalogService
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.errors import Conflict, NotFound
from aiaas.serving.loader import CatalogLoader
from aiaas.serving.predictions import runtime_errors
from aiaas_runtime import Model, ModelPool, ModelRegistry

CatalogEntry = tuple[CatalogModel, ModelVersion]


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A resolved model: what the caller named, and the runtime model that serves it.

    Attributes:
        name: The model's name.
        version: The version that runs.
        owner: The tenant that owns it (the built-ins' tenant for the layer's models).
        model: The runtime model (task, tensors, labels, limits; predict and infer).
        capture_percent: The share of the owner's requests its data capture keeps.
    """

    name: str
    version: str
    owner: str
    model: Model
    capture_percent: float = 0.0

    @property
    def task(self) -> str:
        """What the model does (``embedding``, ``tabular-classification``...)."""
        return self.model.manifest.task

    @property
    def variant(self) -> str:
        """What runs: ``int8``, ``int8_optimized``, ``fp32`` or ``gpu``."""
        return self.model.variant


class ModelResolver:
    """Finds the model a caller names, and opens it once per process.

    Args:
        layer: The models layer's built-ins.
        catalog: The catalog, for every other name (None: built-ins only).
        loader: Opens catalog versions (None: built-ins only).
        ttl_s: How long catalog records are reused.
        clock: Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        layer: ModelRegistry,
        catalog: CatalogService | None = None,
        loader: CatalogLoader | None = None,
        *,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layer = layer
        self.catalog = catalog
        self.loader = loader
        self.ttl_s = ttl_s
        self.clock = clock
        self._records: dict[tuple[str, str, int | None], tuple[float, CatalogEntry]] = {}
        self._lock = threading.Lock()

    @property
    def pool(self) -> ModelPool[Model]:
        """The one pool of open models (the layer's and the catalog's)."""
        return self.layer.pool

    def resolve(self, caller: Principal, name: str, version: int | None = None) -> ServedModel:
        """The model ``caller`` means by ``name`` (and ``version``: default when None).

        Raises:
            NotFound: No such model visible to the caller, or no such version.
            Conflict: The version is not READY, or the model has no READY version yet.
            Unavailable: It cannot be opened (weights, GPU backend).
        """
        if name in self.layer:
            return self._builtin(name, version)
        if self.catalog is None or self.loader is None:
            raise NotFound(f"model {name!r} not found", param="name")
        model, found = self._entry(caller, name, version)
        key = ("catalog", model.tenant, model.name, found.version, found.digest("fp32"))
        loader = self.loader
        opened = self.pool.get(key, lambda: loader.open(model, found))
        percent = float(found.capture.get("sample_percent", 0.0))
        return ServedModel(model.name, str(found.version), model.tenant, opened, percent)

    def _builtin(self, name: str, version: int | None) -> ServedModel:
        with runtime_errors():
            model = self.layer.get(name)
        if version not in (None, int(model.manifest.version)):
            raise NotFound(f"model {name!r} has no version {version}", param="version")
        return ServedModel(name, model.manifest.version, "aiaas", model)

    def _entry(self, caller: Principal, name: str, version: int | None) -> CatalogEntry:
        key = (caller.tenant, name, version)
        now = self.clock()
        with self._lock:
            cached = self._records.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        entry = self._lookup(caller, name, version)
        with self._lock:
            self._records[key] = (now + self.ttl_s, entry)
        return entry

    def _lookup(self, caller: Principal, name: str, version: int | None) -> CatalogEntry:
        assert self.catalog is not None
        model = self.catalog.resolve(caller, name)
        number = version or model.default_version
        if number is None:
            raise Conflict(f"model {name!r} has no READY version yet", param="version")
        found = self.catalog.version(model, number)
        if found.status != "READY":
            raise Conflict(f"model {name!r} version {number} is {found.status}", param="version")
        return model, found

    def forget(self) -> None:
        """Drop the cached catalog records (the next request reads them again)."""
        with self._lock:
            self._records.clear()
