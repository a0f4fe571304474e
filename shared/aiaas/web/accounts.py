"""Dependencies of the account routes (AuthFunction): signup, login and keys.

Apart from ``aiaas.web.deps``: the account service imports PyJWT and cryptography, ~80 ms of
cold start that the other functions do not need.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aiaas.domain.accounts import AccountService
from aiaas.domain.erasure import AccountEraser
from aiaas.domain.keys import KeyService
from aiaas.web.deps import services_of


async def get_account_service(request: Request) -> AccountService:
    """Signup and login on the accounts table."""
    return services_of(request).accounts


async def get_key_service(request: Request) -> KeyService:
    """Key management on the accounts table."""
    return services_of(request).keys


async def get_eraser(request: Request) -> AccountEraser:
    """Deleting an account."""
    return services_of(request).eraser


AccountServiceDep = Annotated[AccountService, Depends(get_account_service)]
KeyServiceDep = Annotated[KeyService, Depends(get_key_service)]
EraserDep = Annotated[AccountEraser, Depends(get_eraser)]
