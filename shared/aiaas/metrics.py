"""CloudWatch Embedded Metric Format (EMF): one JSON line on stdout per request, no API call.

CloudWatch Logs turns each line into metrics. Dimensions are only ``model``, ``version`` and
``route`` (every combination is billed as its own custom metric); tenant, key and request id
go in as plain properties (searchable in Logs Insights, never dimensions). Written here, not
with Powertools Metrics, so the predict path and the authorizer pay no import for it; the
shape is Powertools' own, which a test checks.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import orjson

NAMESPACE = "aiaas"
DIMENSIONS = ("model", "version", "route")
MAX_METRICS = 100  # per EMF document


def emf_document(
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    properties: Mapping[str, Any] | None = None,
    *,
    namespace: str = NAMESPACE,
    timestamp_ms: int | None = None,
    rollups: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Any]:
    """One EMF document: ``metrics`` are ``name -> (value, unit)``; ``rollups`` add coarser
    dimension sets (``("route",)``: the same values summed per route, what alarms watch)."""
    if len(metrics) > MAX_METRICS:
        raise ValueError(f"an EMF document holds at most {MAX_METRICS} metrics")
    dims = {k: str(v) for k, v in dimensions.items() if v not in (None, "")}
    sets = [list(dims)] + [[d for d in rollup if d in dims] for rollup in rollups]
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": sets,
                    "Metrics": [
                        {"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()
                    ],
                }
            ],
        },
        **dims,
        **{name: value for name, (value, _) in metrics.items()},
        **(properties or {}),
    }


class MetricsWriter:
    """Writes EMF lines to a stream (stdout in Lambda, where CloudWatch Logs reads them)."""

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.cold = True

    def emit(
        self,
        metrics: Mapping[str, tuple[float, str]],
        dimensions: Mapping[str, str],
        properties: Mapping[str, Any] | None = None,
        rollups: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        """One line; the first of the process also carries ``ColdStart``."""
        if self.cold:
            metrics = {**metrics, "ColdStart": (1, "Count")}
            self.cold = False
        doc = emf_document(
            metrics, dimensions, properties, timestamp_ms=int(self.clock() * 1000),
            rollups=rollups,
        )  # fmt: skip
        stream = self.stream or sys.stdout
        stream.write(orjson.dumps(doc).decode() + "\n")
        stream.flush()
