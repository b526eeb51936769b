"""Login, logout and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from cloud.api.deps import SESSION_COOKIE, Accounts, Settings, credential, get_principal
from cloud.api.routers.schemas import LoginIn, LoginOut, MeOut
from cloud.db import Role
from cloud.services.accounts import Principal

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut)
def login(
    body: LoginIn, request: Request, response: Response, accounts: Accounts, settings: Settings
) -> LoginOut:
    """Open a session; every failure is audited.

    Too many failures per user and address, or per address whatever the user names
    (password spraying), answer 429 until the window has passed.
    """
    address = request.client.host if request.client else "?"
    user, token = accounts.login(body.username, body.password, address)
    ttl = settings.session_ttl_s
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )
    return LoginOut(token=token, username=user.username, role=Role(user.role), expires_in_s=ttl)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    request: Request,
    response: Response,
    accounts: Accounts,
    principal: Annotated[Principal, Depends(get_principal)],
) -> None:
    """Close the caller's session."""
    found = credential(request)
    if found is not None and found[0] == "session":
        accounts.logout(found[1])
    response.delete_cookie(SESSION_COOKIE)


@router.get("/me", response_model=MeOut)
def me(principal: Annotated[Principal, Depends(get_principal)]) -> MeOut:
    """Return who the caller is."""
    return MeOut(name=principal.name, role=principal.role, kind=principal.kind)
