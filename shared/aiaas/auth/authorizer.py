"""The authorizer's decision: who is calling, from an API key or a login JWT.

Plain Python (no FastAPI, no pydantic, no boto3): this runs before every first request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from aiaas.auth.apikeys import ApiKey, matches, parse_key
from aiaas.auth.principal import Principal
from aiaas.auth.tokens import looks_like_jwt, verify_token
from aiaas.errors import Unauthorized


class KeyLookup(Protocol):
    """Finds a key record by id (the repository's ``get``)."""

    def get(self, key_id: str) -> ApiKey | None:
        """The key, or None."""
        ...


ERASURE_ROUTE = "DELETE /v1/account"
T = TypeVar("T")


class TenantCheck(Protocol):
    """Whether a tenant deleted its account (the repository's ``tenant_deleted``)."""

    def tenant_deleted(self, tenant: str) -> bool:
        """True once the tenant is gone."""
        ...


def credential_from(headers: Mapping[str, str]) -> str:
    """``Authorization: Bearer <credential>`` or ``x-api-key: <key>`` (names lower-cased)."""
    authorization = headers.get("authorization", "").strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("Authorization header must be `Bearer <api key or token>`")
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    raise Unauthorized("no credential: send `Authorization: Bearer <key>` or `x-api-key`")


class Authorizer:
    """Authenticates a request; key records (and whether a tenant deleted its account) are
    cached for ``cache_seconds``.

    The cache bounds how long a revoked key, or any credential of a deleted account (a login
    token stays valid until it expires), keeps working in a warm authorizer.
    """

    def __init__(
        self,
        keys: KeyLookup,
        signing_key: Callable[[], str],
        *,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.time,
        tenants: TenantCheck | None = None,
    ) -> None:
        self.keys = keys
        self.tenants = tenants
        self._deleted: dict[str, tuple[float, bool]] = {}
        self.signing_key = signing_key
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, headers: Mapping[str, str], route: str = "") -> Principal:
        """The caller, or Unauthorized with the reason. A deleted account's credentials are
        refused, except a login token on ``DELETE /v1/account`` (``route``, API Gateway's
        route key), so that a deletion which failed halfway can be finished."""
        credential = credential_from(headers)
        principal = self._principal(credential)
        if (
            self.tenants is not None
            and not (route == ERASURE_ROUTE and principal.kind == "user")
            and self._tenant_deleted(principal.tenant)
        ):
            raise Unauthorized("this account was deleted")
        return principal

    def _principal(self, credential: str) -> Principal:
        if looks_like_jwt(credential):
            return verify_token(self.signing_key(), credential)
        key_id, secret = parse_key(credential)
        record = self._lookup(key_id)
        if record is None or not matches(secret, record.digest):
            raise Unauthorized("unknown API key")
        if record.revoked_at is not None:
            raise Unauthorized("API key revoked")
        if not record.usable_at(int(self.clock())):
            raise Unauthorized("API key expired")
        return Principal(
            tenant=record.tenant,
            principal_id=record.principal_id,
            kind="key",
            key_id=record.key_id,
            scopes=record.scopes,
            daily_quota=record.daily_quota,
            expires_at=record.expires_at or 0,
        )

    def _tenant_deleted(self, tenant: str) -> bool:
        assert self.tenants is not None
        check = self.tenants.tenant_deleted
        return self._cached(self._deleted, tenant, check, keep=lambda deleted: deleted)

    def _lookup(self, key_id: str) -> ApiKey | None:
        return self._cached(self._cache, key_id, self.keys.get)

    def _cached(
        self,
        cache: dict[str, tuple[float, T]],
        key: str,
        load: Callable[[str], T],
        keep: Callable[[T], bool] = lambda _: False,
    ) -> T:
        """``load(key)``, reused for ``cache_seconds`` (for good where ``keep`` says so: a
        deletion is final). The injected clock makes the revocation delay testable."""
        now = self.clock()
        with self._lock:
            cached = cache.get(key)
        if cached is not None and (keep(cached[1]) or now - cached[0] < self.cache_seconds):
            return cached[1]
        value = load(key)
        with self._lock:
            if len(cache) > 10_000:
                cache.clear()
            cache[key] = (now, value)
        return value
