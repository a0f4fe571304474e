"""API keys: ``aiaas_<key id>_<secret>``, shown once, stored as a SHA-256 digest.

The secret is 256 random bits, so a fast digest is safe against brute force (unlike a
password) and keeps the authorizer's check in microseconds. The key id is public: it names
the key in listings and logs and finds its record without a scan.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from aiaas.auth.scopes import Scope, format_scopes
from aiaas.errors import Unauthorized

PREFIX = "aiaas"
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
ID_LENGTH = 16


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: the full value is shown to the user once."""

    key_id: str
    value: str
    digest: str

    @property
    def display_prefix(self) -> str:
        """The public part (``aiaas_<key id>``), safe to list and log."""
        return f"{PREFIX}_{self.key_id}"


def digest(secret: str) -> str:
    """Hex SHA-256 of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> NewKey:
    """A new key with a random id and a 256-bit secret."""
    key_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id=key_id, value=f"{PREFIX}_{key_id}_{secret}", digest=digest(secret))


def parse_key(value: str) -> tuple[str, str]:
    """Split a presented key into (key id, secret).

    Raises:
        Unauthorized: Not in the ``aiaas_<id>_<secret>`` form.
    """
    prefix, _, rest = value.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or len(key_id) != ID_LENGTH or not secret or len(value) > 128:
        raise Unauthorized("malformed API key")
    if any(c not in ID_ALPHABET for c in key_id):
        raise Unauthorized("malformed API key")
    return key_id, secret


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time comparison of a presented secret with the stored digest."""
    return hmac.compare_digest(digest(secret), stored_digest)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's record: the secret itself is never stored, only its digest."""

    key_id: str
    tenant: str
    principal_id: str
    name: str
    scopes: frozenset[Scope]
    digest: str
    created_at: int
    expires_at: int | None = None
    revoked_at: int | None = None
    last_used_at: int | None = None
    daily_quota: int = 0

    def usable_at(self, now: int) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def to_public(self) -> dict[str, Any]:
        """What listings show: everything but the digest."""
        return {
            "id": self.key_id,
            "prefix": f"aiaas_{self.key_id}",
            "name": self.name,
            "scopes": format_scopes(set(self.scopes)).split(),
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "daily_quota": self.daily_quota or None,
        }
