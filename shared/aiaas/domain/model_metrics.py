"""Per-model metrics a model's owner reads: counters and log-spaced latency histograms.

Each model request adds to one record per (tenant, model, version, UTC hour): requests,
rows, errors by status, one latency bucket, and what the outputs were (classifiers: counts
per predicted class and the sum of top scores; regressors: sum and sum of squares of the
values; text models: a bucket of input length in tokens). A report sums the hours of a range,
per hour or per day, and reads percentiles from the summed histogram.

Latency buckets are log-spaced, four per doubling, from 0.1 ms: bucket k holds latencies in
(0.1 * 2^((k-1)/4), 0.1 * 2^(k/4)] ms, and a percentile is reported as its bucket's geometric
middle, so it is within 2^(1/8) - 1 = 9.05 % of the true value (`PERCENTILE_ERROR`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

BASE_MS = 0.1
PER_DOUBLING = 4
BUCKETS = 96  # up to 0.1 ms * 2^24 = 28 minutes: past any Lambda
PERCENTILE_ERROR = 2 ** (1 / (2 * PER_DOUBLING)) - 1
LENGTH_EDGES = (8, 16, 32, 64, 128, 256, 512)  # tokens


def latency_bucket(ms: float) -> int:
    """The histogram bucket of a latency."""
    if ms <= BASE_MS:
        return 0
    return min(BUCKETS - 1, math.ceil(PER_DOUBLING * math.log2(ms / BASE_MS)))


def bucket_middle(index: int) -> float:
    """The geometric middle of a bucket (its upper edge for bucket 0)."""
    if index == 0:
        return BASE_MS
    return BASE_MS * 2 ** ((index - 0.5) / PER_DOUBLING)


def length_bucket(tokens: int) -> str:
    """``<=8``, ``<=16``... ``>512``."""
    for edge in LENGTH_EDGES:
        if tokens <= edge:
            return f"<={edge}"
    return f">{LENGTH_EDGES[-1]}"


@dataclass(frozen=True, slots=True)
class Observation:
    """One request of one model, as the metrics record adds it up."""

    tenant: str
    model: str
    version: str
    hour: str  # yyyy-mm-ddThh (UTC)
    status: int
    latency_ms: float
    rows: int = 0
    classes: Mapping[str, int] = field(default_factory=dict)
    top_score_sum: float = 0.0
    value_sum: float = 0.0
    value_squares: float = 0.0
    lengths: Mapping[str, int] = field(default_factory=dict)


class MetricsStore(Protocol):
    """Where the per-hour records live (the usage table)."""

    def add(self, observation: Observation) -> None: ...
    def hours(self, tenant: str, model: str, start: str, end: str) -> list[dict[str, Any]]: ...


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q`` quantile (0..1) of a bucket histogram, as its bucket's middle."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = q * total
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round(bucket_middle(index), 3)
    return round(bucket_middle(max(histogram)), 3)


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum hour records into one report entry."""
    requests = rows = 0
    errors: dict[str, int] = {}
    histogram: dict[int, int] = {}
    classes: dict[str, int] = {}
    lengths: dict[str, int] = {}
    top = value = squares = 0.0
    for record in records:
        requests += int(record.get("requests", 0))
        rows += int(record.get("rows", 0))
        top += float(record.get("top_score_sum", 0))
        value += float(record.get("value_sum", 0))
        squares += float(record.get("value_squares", 0))
        for name, count in record.items():
            if name.startswith("status:"):
                errors[name[7:]] = errors.get(name[7:], 0) + int(count)
            elif name.startswith("latency:"):
                index = int(name[8:])
                histogram[index] = histogram.get(index, 0) + int(count)
            elif name.startswith("class:"):
                classes[name[6:]] = classes.get(name[6:], 0) + int(count)
            elif name.startswith("length:"):
                lengths[name[7:]] = lengths.get(name[7:], 0) + int(count)
    entry: dict[str, Any] = {
        "requests": requests,
        "rows": rows,
        "errors": {k: v for k, v in sorted(errors.items()) if not k.startswith("2")},
        "statuses": dict(sorted(errors.items())),
        "latency_ms": {
            "p50": percentile(histogram, 0.50),
            "p95": percentile(histogram, 0.95),
            "p99": percentile(histogram, 0.99),
            "relative_error": round(PERCENTILE_ERROR, 4),
        },
    }
    predicted = sum(classes.values())
    if predicted:
        entry["classes"] = dict(sorted(classes.items(), key=lambda kv: -kv[1]))
        entry["mean_top_score"] = round(top / predicted, 6)
    counted = rows if not predicted and (value or squares) else 0
    if counted:
        mean = value / counted
        entry["output"] = {
            "mean": round(mean, 6),
            "std": round(math.sqrt(max(squares / counted - mean * mean, 0.0)), 6),
        }
    if lengths:
        entry["input_tokens"] = dict(lengths)
    return entry


class Catalog(Protocol):
    """Which models a caller may see."""

    def resolve(self, caller: Any, name: str) -> Any: ...


class ModelMetricsService:
    """Records requests and reports them, for the caller's tenant only."""

    def __init__(self, store: MetricsStore, catalog: Catalog | None = None) -> None:
        self.store = store
        self.catalog = catalog

    def record(self, observation: Observation) -> None:
        """Add one request."""
        self.store.add(observation)

    def report(
        self,
        caller: Any,
        name: str,
        *,
        start: str,
        end: str,
        granularity: str = "hour",
        version: str | None = None,
    ) -> dict[str, Any]:
        """The caller's tenant's calls of a model it can see, per hour or day of
        ``start``..``end`` (``yyyy-mm-dd`` or ``yyyy-mm-ddThh``, UTC, inclusive)."""
        from aiaas.errors import InvalidInput  # noqa: PLC0415

        if self.catalog is not None:
            self.catalog.resolve(caller, name)  # NotFound for a model the caller cannot see
        lo, hi = _hour(start, "start", first=True), _hour(end, "end", first=False)
        if lo > hi:
            raise InvalidInput("start is after end", param="start")
        if granularity not in ("hour", "day"):
            raise InvalidInput("granularity is hour or day", param="granularity")
        records = [
            r
            for r in self.store.hours(caller.tenant, name, lo, hi)
            if version is None or str(r.get("version")) == version
        ]
        width = 13 if granularity == "hour" else 10
        periods: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            periods.setdefault(str(record["hour"])[:width], []).append(record)
        return {
            "object": "model_metrics",
            "model": name,
            "version": version,
            "tenant": caller.tenant,
            "start": lo,
            "end": hi,
            "granularity": granularity,
            "total": summarize(records),
            "data": [{"period": p, **summarize(rs)} for p, rs in sorted(periods.items())],
        }


def _hour(text: str, param: str, *, first: bool) -> str:
    from datetime import datetime  # noqa: PLC0415

    from aiaas.errors import InvalidInput  # noqa: PLC0415

    for pattern, suffix in (("%Y-%m-%dT%H", ""), ("%Y-%m-%d", "T00" if first else "T23")):
        try:
            datetime.strptime(text, pattern)
        except ValueError:
            continue
        return text + suffix
    raise InvalidInput(f"{param} must be yyyy-mm-dd or yyyy-mm-ddThh (UTC)", param=param)
