"""Account records and the storage interfaces the services need (repositories implement them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiaas.auth.apikeys import ApiKey

__all__ = ["ApiKey", "KeyStore", "UsageRow", "User", "UserStore"]
from aiaas.auth.scopes import Scope


@dataclass(frozen=True, slots=True)
class User:
    """A signed-up user; each user is the owner of one tenant."""

    user_id: str
    tenant: str
    email: str
    password_hash: str
    scopes: frozenset[Scope]
    role: str
    created_at: int
    failed_logins: int = 0
    first_failed_at: int = 0


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Requests counted for one tenant, day, key and model, and what they consumed beyond
    requests (``units``: ``prompt_tokens`` and ``completion_tokens`` of generated text)."""

    day: str
    key_id: str
    model: str
    requests: int
    units: Mapping[str, int] = field(default_factory=dict)


class UserStore(Protocol):
    """Users by email."""

    def create(self, user: User) -> None:
        """Store a new user; Conflict if the email is taken."""
        ...

    def get_by_email(self, email: str) -> User | None:
        """The user with this (normalized) email, if any."""
        ...

    def reserve_attempt(self, email: str, now: int, window: int, max_failures: int) -> bool:
        """Count an attempt atomically; False once ``max_failures`` fell within the window."""
        ...

    def reset_failed_logins(self, email: str) -> None:
        """Forget failures after a successful login."""
        ...


class KeyStore(Protocol):
    """API keys by id and by tenant."""

    def put(self, key: ApiKey) -> None:
        """Store a new key."""
        ...

    def get(self, key_id: str) -> ApiKey | None:
        """The key with this id, whatever its tenant (the authorizer's lookup)."""
        ...

    def list_for_tenant(self, tenant: str) -> list[ApiKey]:
        """The tenant's keys, newest first."""
        ...

    def revoke(self, tenant: str, key_id: str, now: int) -> bool:
        """Mark the tenant's key revoked; False if the tenant has no such key."""
        ...


class UsageStore(Protocol):
    """Daily quota counters and usage meters."""

    def consume(
        self, *, tenant: str, meter_id: str, model: str, day: str, limit: int, now: int,
        retry_after: int,
    ) -> None:  # fmt: skip
        """Count one request atomically; QuotaExceeded when ``limit`` is reached."""
        ...

    def record(
        self, *, tenant: str, meter_id: str, model: str, day: str, count: int, now: int
    ) -> None:
        """Add ``count`` to the tenant's usage meter, with no quota (batch rows)."""
        ...

    def add_units(
        self, *, tenant: str, meter_id: str, model: str, day: str, units: Mapping[str, int],
        now: int,
    ) -> None:  # fmt: skip
        """Add ``units`` (tokens...) to the tenant's usage meter of an already counted request."""
        ...

    def query(self, tenant: str, start: str, end: str) -> list[UsageRow]:
        """The tenant's rows for days ``start``..``end`` (ISO dates, inclusive)."""
        ...
