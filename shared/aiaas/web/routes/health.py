"""Liveness, reachable without a credential."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/v1/health")
async def health() -> dict[str, str]:
    """The function answers."""
    return {"status": "ok"}
