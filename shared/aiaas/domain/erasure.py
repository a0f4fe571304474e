"""A tenant leaves: `DELETE /v1/account` removes everything the platform keeps about it.

Order matters. A tombstone goes first: the tenant's id, with no personal data, kept until no
login token issued before the deletion can still be valid (a day). The authorizer refuses
every credential of a tenant with a tombstone, within its cache's TTL (the revocation delay),
so nothing new is written for the tenant while the rest is deleted or afterwards. The keys
go next (metering refuses a deleted key at once). The user goes last, so a deletion that
fails halfway can be retried with the same login token and password (the authorizer lets a
deleted tenant's token through to this one route, where the password is checked again):
every step deletes what is there and counts it, and finds nothing the second time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, asdict, dataclass
from typing import Any, Protocol

from aiaas.auth.principal import Principal
from aiaas.defaults import TOKEN_MAX_TTL_SECONDS
from aiaas.domain.accounts import AccountService

TOMBSTONE_MARGIN_S = 3600


class TenantKeys(Protocol):
    """The tenant's API keys."""

    def delete_for_tenant(self, tenant: str) -> list[str]:
        """Delete them all; their ids."""
        ...


class TenantModels(Protocol):
    """The tenant's catalog entries."""

    def erase_tenant(self, tenant: str) -> tuple[int, int]:
        """Delete its private models and their versions: (models, versions)."""
        ...


class TenantWeights(Protocol):
    """The tenant's weights and uploads."""

    def erase_tenant(self, tenant: str) -> int:
        """Delete them for good; how many objects."""
        ...


class TenantJobs(Protocol):
    """The tenant's batch jobs."""

    def erase_tenant(self, tenant: str) -> tuple[int, int]:
        """Cancel the running ones, delete them all with their files: (jobs, files)."""
        ...


class TenantUsage(Protocol):
    """The tenant's usage meters and its credentials' quota counters."""

    def erase(self, tenant: str, meters: list[str]) -> int:
        """Delete them; how many rows."""
        ...


class Users(Protocol):
    """Deleting a user, and the tombstone of its tenant."""

    def mark_tenant_deleted(self, tenant: str, now: int, expires_at: int) -> None:
        """Leave the tenant's tombstone."""
        ...

    def delete(self, email: str) -> bool:
        """Remove the user; False if there was none."""
        ...


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    """What a deletion removed, counted as it went."""

    tenant: str
    user_id: str
    email: str
    deleted_at: int
    keys: int
    models: int
    versions: int
    weight_objects: int
    batch_jobs: int
    batch_files: int
    usage_rows: int
    training_jobs: int = 0
    training_files: int = 0

    def to_public(self) -> dict[str, Any]:
        """The API's receipt."""
        removed = {k: v for k, v in asdict(self).items() if isinstance(v, int)}
        removed.pop("deleted_at")
        return {
            "object": "account_deletion",
            "tenant": self.tenant,
            "user_id": self.user_id,
            "email": self.email,
            "deleted_at": self.deleted_at,
            "removed": removed,
        }


@dataclass(frozen=True)
class AccountEraser:
    """Deletes a tenant's user, keys, private models and weights, batch and training jobs and
    usage."""

    accounts: AccountService
    _: KW_ONLY
    users: Users
    keys: TenantKeys
    models: TenantModels
    weights: TenantWeights
    jobs: TenantJobs
    usage: TenantUsage
    training: TenantJobs | None = None
    clock: Callable[[], float] = time.time

    def delete(self, caller: Principal, email: str, password: str) -> ErasureReceipt:
        """Delete the caller's account after checking its password again (see the module)."""
        user = self.accounts.confirm(caller, email, password)
        tenant, now = user.tenant, int(self.clock())
        until = now + TOKEN_MAX_TTL_SECONDS + TOMBSTONE_MARGIN_S
        self.users.mark_tenant_deleted(tenant, now, until)
        key_ids = self.keys.delete_for_tenant(tenant)
        models, versions = self.models.erase_tenant(tenant)
        weight_objects = self.weights.erase_tenant(tenant)
        jobs, files = self.jobs.erase_tenant(tenant)
        trained, datasets = self.training.erase_tenant(tenant) if self.training else (0, 0)
        usage_rows = self.usage.erase(tenant, [*key_ids, f"user:{user.user_id}"])
        self.users.delete(user.email)
        return ErasureReceipt(
            tenant=tenant,
            user_id=user.user_id,
            email=user.email,
            deleted_at=now,
            keys=len(key_ids),
            models=models,
            versions=versions,
            weight_objects=weight_objects,
            batch_jobs=jobs,
            batch_files=files,
            usage_rows=usage_rows,
            training_jobs=trained,
            training_files=datasets,
        )
