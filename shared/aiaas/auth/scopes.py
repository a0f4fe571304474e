"""The scopes a credential can carry, defined once."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """What a credential allows.

    Attributes:
        PREDICT: Call models (native, Open Inference Protocol, OpenAI routes).
        MODELS_READ: Browse the catalog.
        MODELS_WRITE: Register, change and delete the tenant's models.
        BATCH: Create, read and cancel batch jobs.
        TRAINING: Create, read and cancel training jobs.
        KEYS_MANAGE: Create, list and revoke API keys; read usage.
    """

    PREDICT = "predict"
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    BATCH = "batch"
    TRAINING = "training"
    KEYS_MANAGE = "keys:manage"


ALL_SCOPES: frozenset[Scope] = frozenset(Scope)


def parse_scopes(text: str) -> frozenset[Scope]:
    """Scopes from their space-separated form (as the authorizer context carries them).

    Unknown names are dropped: a credential never gains a scope by a typo.
    """
    known = {s.value: s for s in Scope}
    return frozenset(known[name] for name in text.split() if name in known)


def format_scopes(scopes: frozenset[Scope] | set[Scope]) -> str:
    """Space-separated, sorted: the form stored in the authorizer context."""
    return " ".join(sorted(s.value for s in scopes))
