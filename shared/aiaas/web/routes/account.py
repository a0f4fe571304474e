"""The caller's account: deleting it, with everything the platform keeps about its tenant."""

from __future__ import annotations

from fastapi import Request

from aiaas.web.accounts import EraserDep
from aiaas.web.body import openapi_body, parse_as, read_json
from aiaas.web.deps import KeyManager, SettingsDep
from aiaas.web.errors import shaped_router
from aiaas.web.responses import FastJSONResponse
from aiaas.web.routes.auth import Credentials
from aiaas.web.schemas.errors import error_responses

router = shaped_router("native", prefix="/v1/account", tags=["account"])


@router.delete(
    "",
    openapi_extra=openapi_body(Credentials),
    responses=error_responses(400, 401, 403, 413, 429),
)
async def delete_account(
    request: Request, caller: KeyManager, eraser: EraserDep, settings: SettingsDep
) -> FastJSONResponse:
    """Delete the account: its user, keys, private models with their weights, batch jobs with
    their files, and usage. Needs a login token and the email and password again; answers a
    receipt of what was removed. Keys stop working at once, or within the authorizer's cache
    TTL where it had cached one."""
    body = parse_as(Credentials, await read_json(request, settings.max_body_bytes))
    receipt = eraser.delete(caller, str(body.email), body.password)
    return FastJSONResponse(receipt.to_public())
