"""API keys: created with a subset of the creator's scopes, listed and revoked per tenant."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiaas.auth.apikeys import generate_key
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope, format_scopes
from aiaas.domain.records import ApiKey, KeyStore
from aiaas.errors import Forbidden, NotFound

DAY = 86_400


class KeyService:
    """Key management for the caller's tenant only."""

    def __init__(
        self,
        keys: KeyStore,
        clock: Callable[[], float] = time.time,
        *,
        default_quota: int = 10_000,
    ) -> None:
        self.keys = keys
        self.clock = clock
        self.default_quota = default_quota

    def create(
        self,
        principal: Principal,
        *,
        name: str,
        scopes: frozenset[Scope],
        expires_in_days: int | None = None,
        daily_quota: int | None = None,
    ) -> tuple[ApiKey, str]:
        """Store a new key; return its record and the full key (shown this once).

        A key may create only keys within its own limits: its scopes, its daily quota (a
        new key without one gets the creator's) and its expiry (likewise). A login (the
        tenant's owner) may create any.

        Raises:
            Forbidden: A scope, the quota or the expiry is beyond the creating key's.
        """
        extra = scopes - principal.scopes
        if extra:
            raise Forbidden(
                f"cannot grant scopes this credential lacks: {format_scopes(set(extra))}",
                param="scopes",
            )
        now = int(self.clock())
        expires_at = now + expires_in_days * DAY if expires_in_days else None
        if principal.kind == "key":
            daily_quota, expires_at = self._within(principal, daily_quota, expires_at)
        new = generate_key()
        record = ApiKey(
            key_id=new.key_id,
            tenant=principal.tenant,
            principal_id=principal.principal_id,
            name=name,
            scopes=scopes,
            digest=new.digest,
            created_at=now,
            expires_at=expires_at,
            daily_quota=daily_quota or 0,
        )
        self.keys.put(record)
        return record, new.value

    def _within(
        self, creator: Principal, daily_quota: int | None, expires_at: int | None
    ) -> tuple[int, int | None]:
        """The new key's quota and expiry, checked against (or taken from) the creator's."""
        limit = creator.daily_quota or self.default_quota
        if daily_quota is not None and daily_quota > limit:
            raise Forbidden(
                f"daily_quota {daily_quota} is over this key's own ({limit})", param="daily_quota"
            )
        if creator.expires_at:
            if expires_at is not None and expires_at > creator.expires_at:
                raise Forbidden(
                    "the new key would outlive this one: expires_in_days must end by "
                    f"{creator.expires_at} (epoch seconds)",
                    param="expires_in_days",
                )
            expires_at = expires_at or creator.expires_at
        return daily_quota or limit, expires_at

    def list(self, principal: Principal) -> list[ApiKey]:
        """The caller's tenant's keys, newest first."""
        return self.keys.list_for_tenant(principal.tenant)

    def revoke(self, principal: Principal, key_id: str) -> None:
        """Revoke a key of the caller's tenant; another tenant's key is NotFound."""
        if not self.keys.revoke(principal.tenant, key_id, int(self.clock())):
            raise NotFound(f"key {key_id!r} not found", param="key_id")
