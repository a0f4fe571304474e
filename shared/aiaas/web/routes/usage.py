"""Usage of the caller's tenant: request counts per day, model and key."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter

from aiaas.web.deps import KeyManager, UsageServiceDep

router = APIRouter(prefix="/v1/usage", tags=["usage"])


@router.get("")
async def usage(
    caller: KeyManager, service: UsageServiceDep, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Request counts for ``start``..``end`` (ISO dates, UTC, default the last 30 days)."""
    return service.report(caller, start, end)
