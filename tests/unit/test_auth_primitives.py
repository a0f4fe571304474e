"""API keys, tokens, scopes and SigV4 signing: pure functions, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import botocore.auth
import jwt
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from aiaas.auth.apikeys import generate_key, matches, parse_key
from aiaas.auth.authorizer import credential_from
from aiaas.auth.passwords import hash_password, verify_password
from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES, Scope, format_scopes, parse_scopes
from aiaas.auth.tokens import issue_token, verify_token
from aiaas.aws.lite import sign
from aiaas.errors import Forbidden, Unauthorized

SECRET = "a-signing-key-that-is-long-enough-for-hs256-0123456789"


def test_a_generated_key_parses_back_and_matches_only_its_digest() -> None:
    new = generate_key()
    key_id, secret = parse_key(new.value)
    assert key_id == new.key_id and new.value.startswith(f"aiaas_{key_id}_")
    assert matches(secret, new.digest)
    assert not matches(secret + "x", new.digest)
    assert secret not in new.digest


@pytest.mark.parametrize(
    "value",
    [
        "",
        "aiaas",
        "aiaas_short_secret",
        "other_abcdefghijklmnop_s",
        "aiaas_ABCDEFGHIJKLMNOP_s",
        "aiaas_abcdefghijklmnop_",
        "aiaas_abcdefghijklmnop_" + "x" * 200,
    ],
)
def test_malformed_keys_are_unauthorized(value: str) -> None:
    with pytest.raises(Unauthorized):
        parse_key(value)


def test_token_round_trip_and_rejections() -> None:
    token = issue_token(SECRET, user_id="usr_1", tenant="tnt_1", scopes=ALL_SCOPES, ttl=60)
    principal = verify_token(SECRET, token.access_token)
    assert (principal.tenant, principal.kind, principal.scopes) == ("tnt_1", "user", ALL_SCOPES)
    with pytest.raises(Unauthorized, match="invalid token"):
        verify_token(SECRET + "x", token.access_token)
    unsigned = jwt.encode(
        jwt.decode(token.access_token, options={"verify_signature": False}), None, algorithm="none"
    )
    with pytest.raises(Unauthorized):
        verify_token(SECRET, unsigned)
    expired = issue_token(SECRET, user_id="u", tenant="t", scopes=ALL_SCOPES, ttl=-5)
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(SECRET, expired.access_token)


def test_scopes_round_trip_and_ignore_unknown_names() -> None:
    assert parse_scopes(format_scopes(set(ALL_SCOPES))) == ALL_SCOPES
    assert parse_scopes("predict admin:all models:read") == {Scope.PREDICT, Scope.MODELS_READ}


def test_principal_context_round_trip_and_scope_check() -> None:
    p = Principal("t", "u", "key", "abcdefghijklmnop", frozenset({Scope.PREDICT}), 5)
    assert Principal.from_context(p.to_context()) == p
    p.require(Scope.PREDICT)
    with pytest.raises(Forbidden, match="batch"):
        p.require(Scope.BATCH)
    with pytest.raises(Unauthorized):
        Principal.from_context(None)


@pytest.mark.parametrize(
    ("headers", "credential"),
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer  abc "}, "abc"),
        ({"x-api-key": "k"}, "k"),
        ({"authorization": "Bearer t", "x-api-key": "k"}, "t"),
    ],
)
def test_credential_comes_from_either_header(headers: dict, credential: str) -> None:
    assert credential_from(headers) == credential


@pytest.mark.parametrize("headers", [{}, {"authorization": "Basic x"}, {"authorization": "Bearer"}])
def test_missing_or_malformed_credential_is_unauthorized(headers: dict) -> None:
    with pytest.raises(Unauthorized):
        credential_from(headers)


def test_passwords_hash_with_argon2id_and_verify() -> None:
    stored = hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$") and "staple" not in stored
    assert verify_password(stored, "correct horse battery staple")
    assert not verify_password(stored, "wrong")
    assert not verify_password("not a hash", "wrong")


def test_sigv4_signature_equals_botocores() -> None:
    now = datetime(2026, 11, 23, 5, 0, 0, tzinfo=UTC)
    body = b'{"TableName": "T", "Key": {"pk": {"S": "KEY#x"}}}'
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.GetItem",
    }
    ours = sign(
        method="POST",
        host="dynamodb.us-east-1.amazonaws.com",
        path="/",
        headers=headers,
        body=body,
        service="dynamodb",
        region="us-east-1",
        credentials=("AKID", "SECRET", "TOKEN"),
        now=now,
    )
    request = AWSRequest(
        method="POST",
        url="https://dynamodb.us-east-1.amazonaws.com/",
        data=body,
        headers=dict(headers),
    )
    with mock.patch.object(botocore.auth.datetime, "datetime") as clock:
        clock.now.return_value = clock.utcnow.return_value = now.replace(tzinfo=None)
        botocore.auth.SigV4Auth(
            Credentials("AKID", "SECRET", "TOKEN"), "dynamodb", "us-east-1"
        ).add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
