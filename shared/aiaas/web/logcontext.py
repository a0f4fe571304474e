"""Bind each request's ids and tenant to its log lines (`aiaas.logs.bind`)."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from aiaas import logs


class LogContext:
    """ASGI middleware: ``request_id`` (the Lambda invocation), ``correlation_id`` (API
    Gateway's request id), ``tenant`` and ``model`` (a model route's name) on every line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        event: dict[str, Any] = scope.get("aws.event") or {}
        context = event.get("requestContext") or {}
        caller = (context.get("authorizer") or {}).get("lambda") or {}
        lambda_context = scope.get("aws.context")
        with logs.bind(
            request_id=getattr(lambda_context, "aws_request_id", ""),
            correlation_id=context.get("requestId", ""),
            tenant=caller.get("tenant", ""),
            model=(event.get("pathParameters") or {}).get("name", ""),
        ):
            await self.app(scope, receive, send)
