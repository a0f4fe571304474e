"""Liveness, reachable without a credential."""

from __future__ import annotations

from aiaas.web.errors import shaped_router
from aiaas.web.schemas.errors import error_responses

router = shaped_router("native", tags=["health"])


@router.get("/v1/health", responses=error_responses())
async def health() -> dict[str, str]:
    """The function answers."""
    return {"status": "ok"}
