"""Usage of the caller's tenant: request counts per day, model and key."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiaas.web.deps import KeyManager, UsageServiceDep
from aiaas.web.errors import shaped_router
from aiaas.web.schemas.errors import error_responses

router = shaped_router("native", prefix="/v1/usage", tags=["usage"])


@router.get("", responses=error_responses(400, 401, 403))
async def usage(
    caller: KeyManager, service: UsageServiceDep, start: date | None = None, end: date | None = None
) -> dict[str, Any]:
    """Request counts for ``start``..``end`` (ISO dates, UTC, default the last 30 days)."""
    return service.report(caller, start, end)
