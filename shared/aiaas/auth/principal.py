"""Who is calling: built by the authorizer, read by every function from its context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiaas.auth.scopes import Scope, format_scopes, parse_scopes
from aiaas.errors import Forbidden, Unauthorized

Kind = Literal["key", "user"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller.

    Attributes:
        tenant: The tenant every record the caller touches belongs to.
        principal_id: The user behind the credential.
        kind: ``key`` (API key) or ``user`` (login JWT).
        key_id: The API key's id; empty for a JWT.
        scopes: What the credential allows.
        daily_quota: Requests per UTC day for this credential (0: the default).
        expires_at: When the API key expires (epoch seconds; 0: never, and for a JWT).
    """

    tenant: str
    principal_id: str
    kind: Kind
    key_id: str
    scopes: frozenset[Scope]
    daily_quota: int = 0
    expires_at: int = 0

    @property
    def meter_id(self) -> str:
        """What quotas and usage are counted against: the key, or the user for a JWT."""
        return self.key_id or f"user:{self.principal_id}"

    def require(self, scope: Scope) -> None:
        """Raise Forbidden naming ``scope`` unless this credential carries it."""
        if scope not in self.scopes:
            raise Forbidden(f"this credential lacks the scope {scope.value!r}", param="scope")

    def to_context(self) -> dict[str, str | int]:
        """The authorizer context (flat strings and numbers, as API Gateway passes them)."""
        return {
            "tenant": self.tenant,
            "principal": self.principal_id,
            "kind": self.kind,
            "key_id": self.key_id,
            "scopes": format_scopes(set(self.scopes)),
            "daily_quota": self.daily_quota,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Principal:
        """Read the authorizer context; Unauthorized if there is none (route not guarded)."""
        if not context or not context.get("tenant") or not context.get("principal"):
            raise Unauthorized("no credential: send `Authorization: Bearer <key or token>`")
        kind: Kind = "key" if context.get("kind") == "key" else "user"
        return cls(
            tenant=str(context["tenant"]),
            principal_id=str(context["principal"]),
            kind=kind,
            key_id=str(context.get("key_id") or ""),
            scopes=parse_scopes(str(context.get("scopes") or "")),
            daily_quota=int(context.get("daily_quota") or 0),
            expires_at=int(context.get("expires_at") or 0),
        )
