"""Structured JSON logs: one object per line, with the request's ids and the tenant and model
it concerns where known (the keys Powertools Logger writes, without its ~50 ms import).

``setup(level, service)`` puts the formatter on the root logger's handlers (Lambda's runtime
installs one; a local process gets a stderr handler). The web apps bind ``request_id`` (the
Lambda invocation), ``correlation_id`` (API Gateway's request id) and ``tenant`` per request
(`bind`); the plain handlers bind what they know. Messages are the code's own: no request
body, password, key or token is ever formatted into one (a test reads every line).
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "aiaas_log_context", default=None
)
_COLD = {"start": True}


class JsonFormatter(logging.Formatter):
    """``{"level", "location", "message", "timestamp", "service", "cold_start", ...}``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "service": self.service,
            "logger": record.name,
            "cold_start": _COLD["start"],
            **(_CONTEXT.get() or {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
            entry["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
        return json.dumps(entry, default=str)


def setup(level: str, service: str) -> None:
    """JSON lines at ``level`` on the root logger."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter(service))
    root.setLevel(level)


@contextmanager
def bind(**keys: Any) -> Iterator[None]:
    """Add ``keys`` to every line logged inside the block (empty values are left out)."""
    current = dict(_CONTEXT.get() or {})
    current.update({k: v for k, v in keys.items() if v not in (None, "")})
    token = _CONTEXT.set(current)
    try:
        yield
    finally:
        _CONTEXT.reset(token)
        _COLD["start"] = False
