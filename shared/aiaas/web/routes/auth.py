"""Signup and login: the only routes, with health, reachable without a credential."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.passwords import MAX_LENGTH, MIN_LENGTH
from aiaas.web.accounts import AccountServiceDep
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import SettingsDep
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.schemas.text import Email

router = shaped_router("native", prefix="/v1/auth", tags=["auth"])


class Credentials(BaseModel):
    """Email and password."""

    model_config = ConfigDict(extra="forbid")

    email: Email = Field(min_length=3, max_length=254)
    password: str = Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)


@router.post(
    "/signup",
    status_code=201,
    openapi_extra=openapi_body(Credentials),
    responses=error_responses(400, 409, 413),
)
async def signup(
    request: Request, service: AccountServiceDep, settings: SettingsDep
) -> FastJSONResponse:
    """Create an account (and its tenant)."""
    body = parse_as(Credentials, await read_json(request, settings.max_body_bytes))
    user = service.signup(str(body.email), body.password)
    return FastJSONResponse(
        {"user_id": user.user_id, "email": user.email, "tenant": user.tenant}, status_code=201
    )


@router.post(
    "/login",
    openapi_extra=openapi_body(Credentials),
    responses=error_responses(400, 401, 413, 429),
)
async def login(
    request: Request, service: AccountServiceDep, settings: SettingsDep
) -> dict[str, Any]:
    """Exchange email and password for a bearer token."""
    body = parse_as(Credentials, await read_json(request, settings.max_body_bytes))
    token = service.login(str(body.email), body.password)
    return {
        "access_token": token.access_token,
        "token_type": "bearer",
        "expires_in": token.expires_in,
    }
