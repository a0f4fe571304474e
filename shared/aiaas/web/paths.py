"""Refuse request paths whose parameters hide a slash or a control character.

API Gateway matches its route on the path as sent (``/v1/models/iris-rf%2Fversions/predict``
matches ``/v1/models/{name}/predict``, with ``name`` = ``iris-rf/versions``), while Mangum
hands FastAPI the decoded path (``/v1/models/iris-rf/versions/predict``), which routes
elsewhere. A path parameter holding a slash, a backslash or a control character, or a path
with an encoded one, is therefore answered 400 before routing.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from aiaas.web.errors import error_response

# %2F / %5C (slash, backslash), %00-%1F and %7F (control characters), any case
HIDDEN = re.compile(r"%(?:2f|5c|[01][0-9a-f]|7f)", re.IGNORECASE)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # one regex scan, not a Python loop per character


class PathGuard:
    """ASGI middleware: 400 for a raw path carrying ``HIDDEN`` escapes (or raw control bytes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _hides_something(scope):
            response = error_response(
                400,
                "invalid_input",
                "the path holds an encoded slash, backslash or control character; "
                "names cannot contain them",
                "path",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _hides_something(scope: Scope) -> bool:
    event: dict[str, Any] = scope.get("aws.event") or {}
    values = [str(v) for v in (event.get("pathParameters") or {}).values()]
    raw = event.get("rawPath")
    texts = [*values, str(scope.get("path", "")), raw if isinstance(raw, str) else ""]
    return (
        any(_control(text) for text in texts)
        or any("/" in value or "\\" in value or HIDDEN.search(value) for value in values)
        or bool(HIDDEN.search(texts[-1]))
    )


def _control(text: str) -> bool:
    return CONTROL.search(text) is not None
