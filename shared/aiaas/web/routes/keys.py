"""API keys of the caller's tenant (scope ``keys:manage``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from pydantic import BaseModel, ConfigDict, Field

from aiaas.auth.scopes import Scope
from aiaas.web.accounts import KeyServiceDep
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import KeyManager, SettingsDep
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.schemas.errors import error_responses
from aiaas.web.schemas.text import SafeName

router = shaped_router("native", prefix="/v1/keys", tags=["keys"])

KeyId = Annotated[str, Path(pattern=r"^[a-z2-7]{16}$")]


class NewKeyRequest(BaseModel):
    """A key to create: a name, its scopes and optionally an expiry and a daily quota."""

    model_config = ConfigDict(extra="forbid")

    name: SafeName = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(min_length=1)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    daily_quota: int | None = Field(default=None, ge=1)


@router.post(
    "",
    status_code=201,
    openapi_extra=openapi_body(NewKeyRequest),
    responses=error_responses(400, 401, 403, 413),
)
async def create_key(
    request: Request, caller: KeyManager, keys: KeyServiceDep, settings: SettingsDep
) -> FastJSONResponse:
    """Create an API key; the full key is in this response only."""
    body = parse_as(NewKeyRequest, await read_json(request, settings.max_body_bytes))
    record, value = keys.create(
        caller,
        name=body.name,
        scopes=frozenset(body.scopes),
        expires_in_days=body.expires_in_days,
        daily_quota=body.daily_quota,
    )
    return FastJSONResponse({**record.to_public(), "key": value}, status_code=201)


@router.get("", responses=error_responses(400, 401, 403))
async def list_keys(caller: KeyManager, keys: KeyServiceDep) -> dict[str, Any]:
    """List the tenant's keys (never their secrets)."""
    return {"object": "list", "data": [k.to_public() for k in keys.list(caller)]}


@router.delete("/{key_id}", status_code=204, responses=error_responses(400, 401, 403, 404))
async def revoke_key(key_id: KeyId, caller: KeyManager, keys: KeyServiceDep) -> None:
    """Revoke a key: it stops working within the authorizer's cache time."""
    keys.revoke(caller, key_id)
