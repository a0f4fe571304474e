"""Accounts, keys and usage services on DynamoDB (moto): what a user of the API relies on."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from aiaas.auth.apikeys import parse_key
from aiaas.auth.authorizer import Authorizer
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES, Scope
from aiaas.auth.tokens import verify_token
from aiaas.aws.lite import LiteClient
from aiaas.domain.accounts import AccountService
from aiaas.domain.keys import KeyService
from aiaas.domain.usage import UsageService
from aiaas.errors import Conflict, Forbidden, NotFound, QuotaExceeded, Throttled, Unauthorized
from aiaas.repositories.accounts import DynamoKeys, DynamoUsers
from aiaas.repositories.secrets import SecretReader
from aiaas.repositories.usage import DynamoUsage
from tests.aws import AwsResources

PASSWORD = "correct horse battery staple"


@pytest.fixture
def secret(aws: AwsResources) -> SecretReader:
    return SecretReader(aws.client("secretsmanager"), aws.jwt_secret_arn)


@pytest.fixture
def accounts(aws: AwsResources, secret: SecretReader) -> AccountService:
    return AccountService(DynamoUsers(aws.client("dynamodb"), aws.accounts_table), secret)


@pytest.fixture
def keys(aws: AwsResources) -> KeyService:
    return KeyService(DynamoKeys(aws.client("dynamodb"), aws.accounts_table))


def owner(accounts: AccountService, email: str) -> Principal:
    user = accounts.signup(email, PASSWORD)
    return Principal(user.tenant, user.user_id, "user", "", ALL_SCOPES)


def test_signup_then_login_gives_a_token_for_the_users_tenant(
    accounts: AccountService, secret: SecretReader, aws: AwsResources
) -> None:
    user = accounts.signup("Ada@Example.com", PASSWORD)
    token = accounts.login("ada@example.com", PASSWORD)
    principal = verify_token(secret(), token.access_token)
    assert (principal.tenant, principal.principal_id) == (user.tenant, user.user_id)
    assert principal.scopes == ALL_SCOPES
    stored = aws.client("dynamodb").get_item(
        TableName=aws.accounts_table, Key={"pk": {"S": "USER#ada@example.com"}, "sk": {"S": "USER"}}
    )["Item"]
    assert stored["password_hash"]["S"].startswith("$argon2id$")
    assert PASSWORD not in str(stored)


def test_duplicate_email_is_a_conflict(accounts: AccountService) -> None:
    accounts.signup("bob@example.com", PASSWORD)
    with pytest.raises(Conflict):
        accounts.signup("BOB@example.com", PASSWORD)


def test_repeated_failed_logins_are_throttled_even_with_the_right_password(
    accounts: AccountService,
) -> None:
    accounts.signup("eve@example.com", PASSWORD)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            accounts.login("eve@example.com", "wrong password!!")
    with pytest.raises(Throttled) as info:
        accounts.login("eve@example.com", PASSWORD)
    assert 0 < info.value.retry_after <= 900


def test_unknown_email_and_wrong_password_say_the_same(accounts: AccountService) -> None:
    accounts.signup("carl@example.com", PASSWORD)
    with pytest.raises(Unauthorized, match="invalid email or password"):
        accounts.login("nobody@example.com", PASSWORD)
    with pytest.raises(Unauthorized, match="invalid email or password"):
        accounts.login("carl@example.com", "not the password")


def test_key_is_shown_once_stored_hashed_and_listed_without_secret(
    accounts: AccountService, keys: KeyService, aws: AwsResources
) -> None:
    caller = owner(accounts, "dan@example.com")
    record, value = keys.create(caller, name="ci", scopes=frozenset({Scope.PREDICT}))
    key_id, secret_part = parse_key(value)
    assert key_id == record.key_id
    items = aws.client("dynamodb").scan(TableName=aws.accounts_table)["Items"]
    assert secret_part not in str(items) and value not in str(items)
    (listed,) = [k.to_public() for k in keys.list(caller)]
    assert listed["prefix"] == f"aiaas_{key_id}" and listed["scopes"] == ["predict"]
    assert "digest" not in listed and value not in str(listed)


def test_a_key_cannot_grant_more_than_its_creator_has(keys: KeyService) -> None:
    limited = Principal("t1", "u1", "key", "k1", frozenset({Scope.KEYS_MANAGE}))
    with pytest.raises(Forbidden, match="predict"):
        keys.create(limited, name="x", scopes=frozenset({Scope.PREDICT}))


def test_tenants_see_and_revoke_only_their_own_keys(
    accounts: AccountService, keys: KeyService
) -> None:
    alice, bob = owner(accounts, "alice@example.com"), owner(accounts, "bob2@example.com")
    record, _ = keys.create(alice, name="a", scopes=frozenset({Scope.PREDICT}))
    assert keys.list(bob) == []
    with pytest.raises(NotFound):
        keys.revoke(bob, record.key_id)
    keys.revoke(alice, record.key_id)
    assert keys.list(alice)[0].revoked_at is not None


def test_authorizer_accepts_keys_and_tokens_and_refuses_revoked_or_expired(
    accounts: AccountService, keys: KeyService, secret: SecretReader, aws: AwsResources
) -> None:
    # Given the authorizer on the stdlib client, exactly as deployed (no cache)
    lite_keys = DynamoKeys(LiteClient("dynamodb"), aws.accounts_table)
    lite_secret = SecretReader(LiteClient("secretsmanager"), aws.jwt_secret_arn)
    authorizer = Authorizer(lite_keys, lite_secret, cache_seconds=0)
    caller = owner(accounts, "fay@example.com")
    record, value = keys.create(caller, name="k", scopes=frozenset({Scope.PREDICT}))
    token = accounts.login("fay@example.com", PASSWORD).access_token
    # Then both header forms and the JWT authenticate the right tenant
    for headers in ({"authorization": f"Bearer {value}"}, {"x-api-key": value},
                    {"authorization": f"Bearer {token}"}):  # fmt: skip
        assert authorizer.authenticate(headers).tenant == caller.tenant
    # And a revoked key is refused
    keys.revoke(caller, record.key_id)
    with pytest.raises(Unauthorized, match="revoked"):
        authorizer.authenticate({"x-api-key": value})
    # And an expired key is refused
    _, short = keys.create(caller, name="s", scopes=frozenset({Scope.PREDICT}), expires_in_days=1)
    later = Authorizer(lite_keys, lite_secret, cache_seconds=0, clock=lambda: 2e10)
    with pytest.raises(Unauthorized, match="expired"):
        later.authenticate({"x-api-key": short})


@pytest.mark.parametrize("client", ["boto3", "lite"])
def test_quota_is_exact_and_usage_counts_every_call(aws: AwsResources, client: str) -> None:
    dynamodb = aws.client("dynamodb") if client == "boto3" else LiteClient("dynamodb")
    store = DynamoUsage(dynamodb, aws.usage_table, aws.accounts_table)
    usage = UsageService(store, default_quota=3, clock=lambda: 1_795_400_000.0)
    key = Principal("t1", "u1", "key", "abcdefghijklmnop", frozenset({Scope.PREDICT}))
    for model in ("iris-rf", "iris-rf", "digits-cnn"):
        usage.consume(key, model)
    with pytest.raises(QuotaExceeded) as info:
        usage.consume(key, "iris-rf")
    assert 0 < info.value.retry_after <= 86_400
    report = usage.report(key, date(2026, 11, 23), date(2026, 11, 23))
    assert report["total"] == 3
    assert report["by_model"] == {"digits-cnn": 1, "iris-rf": 2}
    assert report["by_key"] == {"abcdefghijklmnop": 3}
    other = Principal("t2", "u2", "key", "bbbbbbbbbbbbbbbb", frozenset({Scope.PREDICT}))
    assert usage.report(other, date(2026, 11, 23), date(2026, 11, 23))["total"] == 0


def test_a_key_with_its_own_quota_uses_it(aws: AwsResources) -> None:
    store = DynamoUsage(aws.client("dynamodb"), aws.usage_table)
    usage = UsageService(store, default_quota=100)
    key = Principal("t1", "u1", "key", "cccccccccccccccc", frozenset({Scope.PREDICT}), 1)
    usage.consume(key, "iris-rf")
    with pytest.raises(QuotaExceeded):
        usage.consume(key, "iris-rf")


def test_a_key_can_mint_only_keys_within_its_own_limits(
    accounts: AccountService, keys: KeyService
) -> None:
    # Given a keys:manage key with a quota of 3 a day that expires in a day
    user = owner(accounts, "minter@example.com")
    scopes = frozenset({Scope.KEYS_MANAGE, Scope.PREDICT})
    small, _ = keys.create(user, name="small", scopes=scopes, daily_quota=3, expires_in_days=1)
    assert small.expires_at is not None
    as_key = Principal(user.tenant, user.principal_id, "key", small.key_id, scopes,
                       daily_quota=3, expires_at=small.expires_at)  # fmt: skip
    # When it tries to mint a bigger or longer-lived key, it is refused
    with pytest.raises(Forbidden, match="over this key's own"):
        keys.create(as_key, name="big", scopes=scopes, daily_quota=1_000_000)
    with pytest.raises(Forbidden, match="outlive"):
        keys.create(as_key, name="long", scopes=scopes, expires_in_days=30)
    with pytest.raises(Forbidden, match="lacks"):
        keys.create(as_key, name="admin", scopes=scopes | {Scope.MODELS_WRITE})
    # Then a key it may mint inherits its quota and expiry when it names none
    child, _ = keys.create(as_key, name="child", scopes=frozenset({Scope.PREDICT}))
    assert child.daily_quota == 3 and child.expires_at == small.expires_at
    # and the owner's login is not limited
    big, _ = keys.create(user, name="big", scopes=scopes, daily_quota=1_000_000)
    assert big.daily_quota == 1_000_000 and big.expires_at is None


class AtomicWrites:
    """Each write applied whole before the next, as DynamoDB applies a conditional write
    (moto's threaded server evaluates concurrent conditions against the same old item)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in ("update_item", "put_item"):
            return method

        def atomic(**params: Any) -> Any:
            with self.lock:
                return method(**params)

        return atomic


def test_concurrent_guesses_cannot_pass_the_lockout(
    aws: AwsResources, secret: SecretReader
) -> None:
    # Given an account locked after 5 failures, and 24 wrong guesses from 8 threads at once
    client = AtomicWrites(aws.client("dynamodb"))
    accounts = AccountService(DynamoUsers(client, aws.accounts_table), secret,
                              max_failures=5, failure_window=900)  # fmt: skip
    accounts.signup("target@example.com", PASSWORD)

    def guess(i: int) -> str:
        try:
            accounts.login("target@example.com", f"wrong guess {i}")
        except Throttled:
            return "throttled"
        except Unauthorized:
            return "checked"
        return "in"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(guess, range(24)))
    # Then at most 5 passwords were ever checked, and the right one is refused too
    assert outcomes.count("checked") <= 5 and outcomes.count("in") == 0
    assert outcomes.count("throttled") >= 19
    with pytest.raises(Throttled):
        accounts.login("target@example.com", PASSWORD)
