"""Per-request metrics of the model routes, as CloudWatch EMF (`aiaas.metrics`).

An ASGI middleware around the predict app: for every request to a model route it emits
``Requests``, ``Errors`` (and ``Errors.<code>``), ``QuotaRejected``, ``LatencyMs`` (the
handler), ``InferenceMs``, ``Predictions`` (rows) and ``BatchSize``, with the dimensions model,
version and route, and again per route alone (the template's alarms watch that rollup);
tenant, key id and the API Gateway request id are properties.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aiaas.domain.model_metrics import Observation
from aiaas.metrics import MetricsWriter
from aiaas.serving import observations

logger = logging.getLogger(__name__)

MODEL_ROUTES = {"predict", "explain", "infer", "embeddings", "completions", "transcriptions"}


def _route(path: str) -> str:
    """``predict``, ``explain``, ``infer``, ``embeddings``, ``chat``...: the path's last verb."""
    parts = [p for p in path.split("/") if p]
    return parts[-1] if parts else ""


def _model(scope: Scope, path: str) -> str:
    event: dict[str, Any] = scope.get("aws.event") or {}
    name = (event.get("pathParameters") or {}).get("name")
    if name:
        return str(name)
    parts = [p for p in path.split("/") if p]
    return parts[2] if len(parts) > 3 and parts[1] == "models" else ""


class RequestMetrics:
    """ASGI middleware: one EMF line per model request."""

    def __init__(
        self,
        app: ASGIApp,
        writer: MetricsWriter | None = None,
        recorder: Callable[[Observation], None] | None = None,
    ) -> None:
        self.app = app
        self.writer = writer or MetricsWriter()
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        route = _route(path)
        if scope["type"] != "http" or route not in MODEL_ROUTES:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        observations.start()  # this request's own summary (not an older one)
        seen: dict[str, Any] = {"status": 500, "headers": {}}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = int(message["status"])
                seen["headers"] = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])
                }
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._emit(scope, path, route, seen, (time.perf_counter() - started) * 1e3)

    def _emit(
        self, scope: Scope, path: str, route: str, seen: dict[str, Any], latency_ms: float
    ) -> None:
        status, headers = seen["status"], seen["headers"]
        code = headers.get("x-error-code", "")
        failed = status >= 400
        metrics: dict[str, tuple[float, str]] = {
            "Requests": (1, "Count"),
            "Errors": (1 if failed else 0, "Count"),
            "LatencyMs": (round(latency_ms, 3), "Milliseconds"),
        }
        if failed:
            metrics[f"Errors.{code or status}"] = (1, "Count")
        if code == "quota_exceeded":
            metrics["QuotaRejected"] = (1, "Count")
        if "x-inference-ms" in headers:
            metrics["InferenceMs"] = (float(headers["x-inference-ms"]), "Milliseconds")
        if "x-model-rows" in headers:
            rows = int(headers["x-model-rows"])
            metrics["Predictions"] = (rows, "Count")
            metrics["BatchSize"] = (rows, "Count")
        summary = observations.take() or {}
        if "prompt_tokens" in summary:  # generation: counted when its stream ended
            metrics["PromptTokens"] = (summary["prompt_tokens"], "Count")
            metrics["CompletionTokens"] = (summary["completion_tokens"], "Count")
        if "audio_seconds" in summary:  # transcription
            metrics["AudioSeconds"] = (summary["audio_seconds"], "Seconds")
        event: dict[str, Any] = scope.get("aws.event") or {}
        context = event.get("requestContext") or {}
        caller = (context.get("authorizer") or {}).get("lambda") or {}
        dimensions = {
            "model": headers.get("x-model-name") or _model(scope, path),
            "version": headers.get("x-model-version", ""),
            "route": route,
        }
        properties = {
            "tenant": caller.get("tenant", ""),
            "key_id": caller.get("key_id", ""),
            "request_id": context.get("requestId", ""),
            "status": status,
        }
        self.writer.emit(metrics, dimensions, properties, rollups=(("route",),))
        self._record(dimensions, properties, status, latency_ms, summary)

    def _record(
        self,
        dims: dict[str, str],
        props: dict[str, Any],
        status: int,
        latency_ms: float,
        summary: dict[str, Any],
    ) -> None:
        """The per-model record the owner reads (`aiaas.domain.model_metrics`); never fails
        the request: a store error is logged."""
        if self.recorder is None or not props["tenant"] or status in (401, 403, 404):
            return
        observation = Observation(
            tenant=props["tenant"],
            model=dims["model"],
            version=dims["version"],
            hour=time.strftime("%Y-%m-%dT%H", time.gmtime()),
            status=status,
            latency_ms=latency_ms,
            rows=int(summary.get("rows", 0)),
            classes=summary.get("classes", {}),
            top_score_sum=float(summary.get("top", 0.0)),
            value_sum=float(summary.get("value_sum", 0.0)),
            value_squares=float(summary.get("value_squares", 0.0)),
            lengths=summary.get("lengths", {}),
        )
        try:
            self.recorder(observation)
        except Exception:
            logger.warning("could not record the model metrics of a request", exc_info=True)
