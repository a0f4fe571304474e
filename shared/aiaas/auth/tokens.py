"""Login tokens: JWTs signed with HS256 by a key held in Secrets Manager."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import Scope, format_scopes, parse_scopes
from aiaas.errors import Unauthorized

ALGORITHM = "HS256"
ISSUER = "aiaas"
REQUIRED = ["exp", "iat", "sub", "tenant", "scopes", "iss"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """What login returns."""

    access_token: str
    expires_in: int


def issue_token(
    secret: str, *, user_id: str, tenant: str, scopes: frozenset[Scope], ttl: int
) -> IssuedToken:
    """Sign a token for a user, valid ``ttl`` seconds."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": user_id,
        "tenant": tenant,
        "scopes": format_scopes(set(scopes)),
        "iat": now,
        "exp": now + ttl,
    }
    return IssuedToken(jwt.encode(claims, secret, algorithm=ALGORITHM), ttl)


def verify_token(secret: str, token: str) -> Principal:
    """Check signature, algorithm (HS256 only: never ``none``), issuer and expiry.

    Raises:
        Unauthorized: Anything wrong with the token, with the reason.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": REQUIRED},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from exc
    return Principal(
        tenant=str(claims["tenant"]),
        principal_id=str(claims["sub"]),
        kind="user",
        key_id="",
        scopes=parse_scopes(str(claims["scopes"])),
    )


def looks_like_jwt(credential: str) -> bool:
    """Three base64url segments: a JWT rather than an API key."""
    return credential.count(".") == 2
