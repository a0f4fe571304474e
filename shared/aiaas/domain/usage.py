"""Quotas and usage: every metered request is counted once, atomically, per credential/day."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiaas.auth.principal import Principal
from aiaas.domain.records import UsageStore
from aiaas.errors import InvalidInput

MAX_RANGE_DAYS = 366


class UsageService:
    """Daily quotas per API key (default from configuration) and usage reports per tenant."""

    def __init__(
        self, store: UsageStore, default_quota: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.default_quota = default_quota
        self.clock = clock

    def consume(self, principal: Principal, model: str) -> None:
        """Count one request; QuotaExceeded (with seconds to UTC midnight) when over."""
        now = self.clock()
        today = datetime.fromtimestamp(now, UTC)
        midnight = datetime.combine(today.date() + timedelta(days=1), datetime.min.time(), UTC)
        self.store.consume(
            tenant=principal.tenant,
            meter_id=principal.meter_id,
            model=model,
            day=today.date().isoformat(),
            limit=principal.daily_quota or self.default_quota,
            now=int(now),
            retry_after=max(1, int(midnight.timestamp() - now)),
        )

    def record(self, tenant: str, meter_id: str, model: str, count: int) -> None:
        """Count ``count`` rows of a batch job in today's usage (no quota applies)."""
        now = self.clock()
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        self.store.record(
            tenant=tenant, meter_id=meter_id, model=model, day=day, count=count, now=int(now)
        )

    def add_units(self, principal: Principal, model: str, units: dict[str, int]) -> None:
        """Add what a counted request consumed (``prompt_tokens``...) to today's usage."""
        now = self.clock()
        self.store.add_units(
            tenant=principal.tenant,
            meter_id=principal.meter_id,
            model=model,
            day=datetime.fromtimestamp(now, UTC).date().isoformat(),
            units=units,
            now=int(now),
        )

    def report(self, principal: Principal, start: date | None, end: date | None) -> dict[str, Any]:
        """Request counts per day, per model and per key for the caller's tenant."""
        end = end or datetime.fromtimestamp(self.clock(), UTC).date()
        start = start or end - timedelta(days=29)
        if start > end or (end - start).days >= MAX_RANGE_DAYS:
            raise InvalidInput(
                f"start must be on or before end, at most {MAX_RANGE_DAYS} days apart",
                param="start",
            )
        rows = self.store.query(principal.tenant, start.isoformat(), end.isoformat())
        by: dict[str, defaultdict[str, int]] = {
            k: defaultdict(int) for k in ("day", "model", "key")
        }
        units: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in rows:
            by["day"][row.day] += row.requests
            by["model"][row.model] += row.requests
            by["key"][row.key_id] += row.requests
            for unit, count in row.units.items():
                units[row.model][unit] += count
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "total": sum(r.requests for r in rows),
            "by_day": dict(sorted(by["day"].items())),
            "by_model": dict(sorted(by["model"].items())),
            "by_key": dict(sorted(by["key"].items())),
            "units_by_model": {
                model: dict(sorted(u.items())) for model, u in sorted(units.items())
            },
            "rows": [
                {"day": r.day, "key_id": r.key_id, "model": r.model, "requests": r.requests}
                | ({"units": dict(r.units)} if r.units else {})
                for r in rows
            ],
        }
