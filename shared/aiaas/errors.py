"""Typed domain errors. No HTTP and no AWS SDK here: ``aiaas.web.errors`` maps them."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of every error a caller is meant to see.

    Attributes:
        code: Stable machine-readable code (``invalid_input``...).
        message: Human-readable sentence naming the problem.
        param: The request field at fault, when there is one (``inputs[3]``).
    """

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidInput(DomainError):
    """The request is malformed or its values are not acceptable."""

    code = "invalid_input"


class ContextLengthExceeded(InvalidInput):
    """A prompt and the tokens asked for do not fit in a language model's context."""

    code = "context_length_exceeded"


class PayloadTooLarge(InvalidInput):
    """The request body is over the size limit."""

    code = "payload_too_large"


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""

    code = "not_found"


class Unauthorized(DomainError):
    """No valid credential."""

    code = "unauthorized"


class Forbidden(DomainError):
    """A valid credential without the right to do this."""

    code = "forbidden"


class Conflict(DomainError):
    """The resource already exists or is in the wrong state."""

    code = "conflict"


class QuotaExceeded(DomainError):
    """Too many requests; retry after ``retry_after`` seconds."""

    code = "quota_exceeded"

    def __init__(self, message: str, *, retry_after: int, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """The service cannot do this right now (model failed to load, backend down)."""

    code = "unavailable"


class Throttled(QuotaExceeded):
    """Too many attempts of something guarded (failed logins)."""

    code = "too_many_attempts"


class Overloaded(Unavailable):
    """Too many requests are waiting (a model's queue is full); retry after ``retry_after``."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int = 1, param: str | None = None) -> None:
        super().__init__(message, param=param)
        self.retry_after = retry_after
