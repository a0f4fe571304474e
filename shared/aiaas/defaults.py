"""Defaults and bounds shared by `aiaas.settings` and the authorizer.

The authorizer reads its few ``AIAAS_*`` variables itself (pydantic costs ~150 ms
of cold start); both take their defaults and bounds from here, so they cannot drift apart.
"""

from __future__ import annotations

LOG_LEVEL = "INFO"
AUTH_CACHE_SECONDS = 30.0  # how long a key record is reused: the revocation delay
AUTH_CACHE_MAX_SECONDS = 60.0
TOKEN_MAX_TTL_SECONDS = 86_400  # the longest a login token may live (AIAAS_TOKEN_TTL_SECONDS)
CATALOG_CACHE_SECONDS = 30.0  # how long a warm function reuses a catalog record
CATALOG_CACHE_MAX_SECONDS = 300.0


def auth_cache_seconds(raw: str | None) -> float:
    """``AIAAS_AUTH_CACHE_SECONDS`` as the authorizer uses it: default 30, within 0..60.

    Raises:
        RuntimeError: The value is not a number.
    """
    if raw is None or not raw.strip():
        return AUTH_CACHE_SECONDS
    try:
        value = float(raw)
    except ValueError as exc:
        raise RuntimeError(f"AIAAS_AUTH_CACHE_SECONDS is not a number: {raw!r}") from exc
    return min(max(value, 0.0), AUTH_CACHE_MAX_SECONDS)
