"""Accounts made through the public API, for tests that need a credential."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"


def new_account(client: httpx.Client) -> dict[str, Any]:
    """Signup, login and one all-purpose key; returns ids, token and key."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    user = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert user.status_code == 201, user.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    key = client.post(
        "/v1/keys",
        json={"name": "e2e", "scopes": ["predict", "models:read", "models:write", "keys:manage"]},
        headers={"authorization": f"Bearer {token}"},
    )
    assert key.status_code == 201, key.text
    return {**user.json(), "token": token, "key": key.json()["key"], "key_id": key.json()["id"]}
