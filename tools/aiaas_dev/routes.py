"""Route matching as API Gateway HTTP APIs do it.

Priorities (API Gateway developer guide, "Routing API requests"): a full match of path and
method first, then a path with variables, then a greedy ``{proxy+}`` path, then the
``$default`` route. Paths are compared segment by segment from the left (an exact segment
beats ``{param}`` beats ``{proxy+}``); for equally specific paths a named method beats ``ANY``.
A named stage prefixes every path (``/prod/...``); ``$default`` serves at the root.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

DEFAULT_ROUTE = "$default"
DEFAULT_STAGE = "$default"

_EXACT, _PARAM, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class Route:
    """One HttpApi route: ``GET /v1/models``, ``ANY /{proxy+}`` or ``$default``.

    ``authorizer`` names the Lambda authorizer guarding it (``None``: public).
    """

    method: str
    path: str
    function: str
    authorizer: str | None = None

    @property
    def route_key(self) -> str:
        """The route key as API Gateway writes it (``POST /v1/models/{name}/predict``)."""
        return DEFAULT_ROUTE if self.is_default else f"{self.method} {self.path}"

    @property
    def is_default(self) -> bool:
        """Whether this is the catch-all ``$default`` route."""
        return self.path == DEFAULT_ROUTE


@dataclass(frozen=True)
class Match:
    """The route a request matched and its decoded path parameters."""

    route: Route
    path_parameters: dict[str, str] = field(default_factory=dict)


def _segment_kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAM
    return _EXACT


def match_path(pattern: str, path: str) -> dict[str, str] | None:
    """Match a request path against a route path.

    Args:
        pattern: A route path such as ``/v1/models/{name}/predict`` or ``/files/{proxy+}``.
        path: The request path without the stage prefix, percent-encoded or not.

    Returns:
        The decoded path parameters, or ``None`` if the path does not match. A parameter
        never matches an empty segment; a greedy parameter takes one or more segments.
    """
    wanted = pattern.split("/")
    given = path.split("/")
    params: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        kind = _segment_kind(segment)
        if kind == _GREEDY:
            rest = unquote("/".join(given[index:]))
            if not rest:
                return None
            params[segment[1:-2]] = rest
            return params
        if index >= len(given):
            return None
        value = unquote(given[index])
        if kind == _PARAM and value:
            params[segment[1:-1]] = value
        elif kind != _EXACT or value != segment:
            return None
    return params if len(given) == len(wanted) else None


def _rank(route: Route, method: str) -> tuple[tuple[int, ...], int]:
    """Sort key: lower is more specific."""
    kinds = tuple(_segment_kind(segment) for segment in route.path.split("/"))
    return kinds, 0 if route.method == method else 1


class RouteTable:
    """The routes of one HttpApi stage, matched like API Gateway does."""

    def __init__(self, routes: Iterable[Route], stage: str = DEFAULT_STAGE) -> None:
        """Create a route table.

        Args:
            routes: The routes, in any order.
            stage: The stage name; anything but ``$default`` prefixes every path.
        """
        self.routes = tuple(routes)
        self.stage = stage
        self._default = next((route for route in self.routes if route.is_default), None)

    @property
    def prefix(self) -> str:
        """The path prefix of the stage (``""`` for ``$default``, else ``/<stage>``)."""
        return "" if self.stage == DEFAULT_STAGE else f"/{self.stage}"

    def strip_stage(self, raw_path: str) -> str | None:
        """The path inside the stage, or ``None`` if it is outside the stage."""
        if not self.prefix:
            return raw_path
        if raw_path == self.prefix:
            return "/"
        if raw_path.startswith(self.prefix + "/"):
            return raw_path[len(self.prefix) :]
        return None

    def match(self, method: str, raw_path: str) -> Match | None:
        """Find the route for a request.

        Args:
            method: The HTTP method, upper case.
            raw_path: The request path as the client sent it (with the stage prefix).

        Returns:
            The best match, the ``$default`` route if nothing else matches, or ``None``
            (API Gateway then answers 404 ``{"message":"Not Found"}``).
        """
        path = self.strip_stage(raw_path)
        if path is None:
            return None
        best: tuple[tuple[tuple[int, ...], int], Match] | None = None
        for route in self.routes:
            if route.is_default or route.method not in {method, "ANY"}:
                continue
            params = match_path(route.path, path)
            if params is None:
                continue
            rank = _rank(route, method)
            if best is None or rank < best[0]:
                best = (rank, Match(route, params))
        if best is not None:
            return best[1]
        return Match(self._default) if self._default is not None else None
