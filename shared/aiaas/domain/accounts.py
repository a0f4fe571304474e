"""Signup and login: argon2id passwords, throttled failures, JWTs signed with a stored key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from aiaas.auth.passwords import DUMMY_HASH, MAX_LENGTH, MIN_LENGTH, hash_password
from aiaas.auth.passwords import verify_password as check_password
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.auth.tokens import IssuedToken, issue_token
from aiaas.domain.records import User, UserStore
from aiaas.errors import Forbidden, InvalidInput, Throttled, Unauthorized

Clock = Callable[[], float]


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively."""
    return email.strip().lower()


class AccountService:
    """Users sign up (each owns a new tenant) and log in for a short-lived token."""

    def __init__(
        self,
        users: UserStore,
        signing_key: Callable[[], str],
        *,
        token_ttl: int = 900,
        max_failures: int = 5,
        failure_window: int = 900,
        clock: Clock = time.time,
    ) -> None:
        self.users = users
        self.signing_key = signing_key
        self.token_ttl = token_ttl
        self.max_failures = max_failures
        self.failure_window = failure_window
        self.clock = clock

    def signup(self, email: str, password: str) -> User:
        """Create a user with every scope, owner of a fresh tenant; Conflict if taken."""
        if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
            raise InvalidInput(
                f"password must have {MIN_LENGTH} to {MAX_LENGTH} characters", param="password"
            )
        user = User(
            user_id=f"usr_{secrets.token_hex(8)}",
            tenant=f"tnt_{secrets.token_hex(8)}",
            email=normalize_email(email),
            password_hash=hash_password(password),
            scopes=ALL_SCOPES,
            role="user",
            created_at=int(self.clock()),
        )
        self.users.create(user)
        return user

    def login(self, email: str, password: str) -> IssuedToken:
        """A token for the right password; 401 otherwise, 429 after repeated failures."""
        user = self._verified(email, password)
        return issue_token(
            self.signing_key(), user_id=user.user_id, tenant=user.tenant, scopes=user.scopes,
            ttl=self.token_ttl,
        )  # fmt: skip

    def confirm(self, caller: Principal, email: str, password: str) -> User:
        """The caller's own user, for an action that wants the password again (deleting the
        account): a login token (not an API key) and the right email and password, under the
        same lockout as login."""
        if caller.kind != "user":
            raise Forbidden("this needs a login token, not an API key", param="authorization")
        user = self._verified(email, password)
        if user.user_id != caller.principal_id or user.tenant != caller.tenant:
            raise Forbidden("these credentials are not the caller's", param="email")
        return user

    def _verified(self, email: str, password: str) -> User:
        email, now = normalize_email(email), int(self.clock())
        user = self.users.get_by_email(email)
        if user is None:
            check_password(DUMMY_HASH, password)  # same work whether or not the user exists
            raise Unauthorized("invalid email or password")
        self._refuse_if_throttled(user, now)
        # counted before the password is checked, in one conditional write: concurrent
        # guesses cannot get past the limit between a check and a count
        if not self.users.reserve_attempt(email, now, self.failure_window, self.max_failures):
            raise self._throttled(user.first_failed_at, now)
        if not check_password(user.password_hash, password):
            raise Unauthorized("invalid email or password")
        self.users.reset_failed_logins(email)
        return user

    def _refuse_if_throttled(self, user: User, now: int) -> None:
        elapsed = now - user.first_failed_at
        if user.failed_logins >= self.max_failures and elapsed < self.failure_window:
            raise self._throttled(user.first_failed_at, now)

    def _throttled(self, first_failed_at: int, now: int) -> Throttled:
        elapsed = now - first_failed_at if first_failed_at else 0
        return Throttled(
            "too many failed logins for this account; try again later",
            retry_after=max(1, self.failure_window - elapsed),
        )
