"""Lambda authorizers in front of routes, as API Gateway HTTP APIs run them (payload 2.0).

For a guarded route API Gateway reads the authorizer's identity sources first: if one is
missing or empty it answers ``401 {"message":"Unauthorized"}`` without calling the
authorizer. Otherwise it calls the authorizer with the ``REQUEST`` event; a simple response
``{"isAuthorized": true, "context": {...}}`` lets the request through to the route's
function with ``requestContext.authorizer.lambda`` set to that context; ``false`` answers
``403 {"message":"Forbidden"}``; an error, a timeout or a response of the wrong shape answers
``500 {"message":"Internal Server Error"}``. With ``ReauthorizeEvery`` > 0 decisions (allow
and deny) are cached for that many seconds, keyed on the identity source values.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiaas_dev.auth_config import CONTEXT_VARIABLES, AuthorizerSpec
from aiaas_dev.events import build_authorizer_event
from aiaas_dev.invoker import InvocationError, Invoker

logger = logging.getLogger(__name__)


class Outcome(Enum):
    """What API Gateway does with the request after asking the authorizer."""

    ALLOW = 200
    UNAUTHORIZED = 401  # an identity source is missing: the authorizer is not called
    DENY = 403
    ERROR = 500  # the authorizer failed or answered something else than a simple response

    @property
    def message(self) -> str:
        """API Gateway's ``{"message": ...}`` text for this outcome's status."""
        return _MESSAGES[self]


_MESSAGES = {
    Outcome.ALLOW: "OK",
    Outcome.UNAUTHORIZED: "Unauthorized",
    Outcome.DENY: "Forbidden",
    Outcome.ERROR: "Internal Server Error",
}


@dataclass(frozen=True)
class Decision:
    """The authorizer's answer for one request.

    Attributes:
        outcome: Allow, deny, unauthorized (401) or error (500).
        context: The ``context`` of an allowing response (``None`` if it had none).
        cached: Whether the decision came from the cache.
    """

    outcome: Outcome
    context: dict[str, Any] | None = None
    cached: bool = False


def identity_values(sources: tuple[str, ...], event: Mapping[str, Any]) -> list[str] | None:
    """The values of the identity sources in a route event.

    Args:
        sources: Selection expressions: ``$request.header.NAME`` (case-insensitive),
            ``$request.querystring.NAME`` (case-sensitive), ``$context.VARIABLE``.
        event: The route event.

    Returns:
        The values in the order of ``sources``, or ``None`` if one is missing or empty.
    """
    values: list[str] = []
    for source in sources:
        value = _identity_value(source, event)
        if not value:
            return None
        values.append(value)
    return values


def _identity_value(source: str, event: Mapping[str, Any]) -> str | None:
    if source.startswith("$request.header."):
        headers = event.get("headers") or {}
        return headers.get(source.removeprefix("$request.header.").lower())
    if source.startswith("$request.querystring."):
        query = event.get("queryStringParameters") or {}
        return query.get(source.removeprefix("$request.querystring."))
    value: Any = event["requestContext"]
    for key in CONTEXT_VARIABLES[source.removeprefix("$context.")]:
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else str(value)


def parse_simple_response(result: Any) -> Decision:
    """Read an authorizer's result as a payload 2.0 simple response.

    Args:
        result: What the authorizer's handler returned.

    Returns:
        Allow (with the context) or deny; `Outcome.ERROR` for anything else: not a JSON
        object, ``isAuthorized`` not a boolean, ``context`` not an object, not serializable.
    """
    try:
        json.dumps(result)
    except (TypeError, ValueError):
        return Decision(Outcome.ERROR)
    if not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
        return Decision(Outcome.ERROR)
    context = result.get("context")
    if context is not None and not isinstance(context, dict):
        return Decision(Outcome.ERROR)
    if not result["isAuthorized"]:
        return Decision(Outcome.DENY)
    return Decision(Outcome.ALLOW, context)


class Authorizer:
    """One Lambda authorizer: its function's worker and its decision cache."""

    def __init__(
        self,
        spec: AuthorizerSpec,
        worker: Invoker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the authorizer.

        Args:
            spec: Its settings from the template.
            worker: Its function's execution environment.
            clock: Seconds for the cache's TTL (tests pass a fake one).
        """
        self.spec = spec
        self.worker = worker
        self._clock = clock
        self._cache: dict[tuple[str, ...], tuple[float, Decision]] = {}
        self._lock = threading.Lock()

    def authorize(self, event: Mapping[str, Any]) -> Decision:
        """Decide on a request as API Gateway would.

        Args:
            event: The route event (without authorizer context).

        Returns:
            The decision; the authorizer runs only when the identity sources are present
            and no cached decision for their values is still valid.
        """
        identity: list[str] | None = None
        if self.spec.identity_sources:
            identity = identity_values(self.spec.identity_sources, event)
            if identity is None:
                return Decision(Outcome.UNAUTHORIZED)
        key = tuple(identity or ())
        cached = self._cached(key)
        if cached is not None:
            return cached
        decision = self._invoke(build_authorizer_event(event, identity))
        if self.spec.ttl_s > 0 and decision.outcome in {Outcome.ALLOW, Outcome.DENY}:
            with self._lock:
                self._cache[key] = (self._clock() + self.spec.ttl_s, decision)
        return decision

    def _cached(self, key: tuple[str, ...]) -> Decision | None:
        if self.spec.ttl_s <= 0:
            return None
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or entry[0] <= self._clock():
                self._cache.pop(key, None)
                return None
        return Decision(entry[1].outcome, entry[1].context, cached=True)

    def _invoke(self, authorizer_event: dict[str, Any]) -> Decision:
        request_id = str(uuid.uuid4())
        try:
            result = self.worker.invoke(authorizer_event, request_id)
        except InvocationError:
            return Decision(Outcome.ERROR)  # the worker logged why, as Lambda would
        decision = parse_simple_response(result)
        if decision.outcome is Outcome.ERROR:
            logger.error(
                "%s: authorizer %s returned %.200r, not a simple response "
                '{"isAuthorized": true|false, "context": {...}}',
                request_id,
                self.spec.name,
                result,
            )
        return decision
