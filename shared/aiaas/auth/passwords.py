"""Password hashing with argon2id (argon2-cffi), OWASP's parameters for a 19 MiB budget."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounds hashing work per request


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    # OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string: algorithm, parameters, salt and digest)."""
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches; False (never an error) for a malformed hash."""
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verified against unknown emails so a login takes as long whether or not the user exists.
DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1$INn0p5H0qlQSMoWBNv/lfA$"
    "W0G477PzyqbR3WTnf4tRHmV97APL/JgBymCaMDWZvXg"
)
