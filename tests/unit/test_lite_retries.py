"""The stdlib AWS client retries throttling and 5xx answers with jittered exponential delays,
never past the caller's deadline; other errors are raised at once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiaas.aws.lite import DEADLINE, AwsError, LiteClient


class Flaky(LiteClient):
    """Answers ``failures`` (status, code) pairs first, then success."""

    def __init__(self, failures: list[tuple[int, str]], **options: Any) -> None:
        self.sleeps: list[float] = []
        self.now = 0.0
        super().__init__(
            "dynamodb", region="us-east-1", sleep=self._sleep, clock=lambda: self.now, **options
        )
        self.failures = list(failures)
        self.posts = 0

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self.posts += 1
        if self.failures:
            status, code = self.failures.pop(0)
            return status, json.dumps({"__type": f"com.amazon#{code}", "message": "no"}).encode()
        return 200, b'{"Item": {}}'


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_throttling_and_5xx_are_retried_with_growing_jittered_delays() -> None:
    client = Flaky([(400, "ThrottlingException"), (500, "InternalServerError"), (503, "x")])
    assert client.get_item(TableName="t", Key={}) == {"Item": {}}
    assert client.posts == 4 and len(client.sleeps) == 3
    caps = [min(1.0, 0.025 * 2**n) for n in (1, 2, 3)]
    assert all(0 <= s <= cap for s, cap in zip(client.sleeps, caps, strict=True))


def test_a_client_error_is_raised_at_once() -> None:
    client = Flaky([(400, "ConditionalCheckFailedException")])
    with pytest.raises(AwsError, match="ConditionalCheckFailed"):
        client.update_item(TableName="t", Key={})
    assert client.posts == 1 and client.sleeps == []


def test_retries_stop_at_the_attempt_limit() -> None:
    client = Flaky([(500, "InternalServerError")] * 10, attempts=3)
    with pytest.raises(AwsError):
        client.get_item(TableName="t", Key={})
    assert client.posts == 3


def test_retries_never_sleep_past_the_callers_deadline() -> None:
    client = Flaky([(400, "ThrottlingException")] * 10, attempts=10, base_delay=0.4)
    token = DEADLINE.set(0.3)  # the invocation ends in 0.3 s (on the client's clock)
    try:
        with pytest.raises(AwsError, match="Throttling"):
            client.get_item(TableName="t", Key={})
    finally:
        DEADLINE.reset(token)
    assert sum(client.sleeps) <= 0.3 and client.posts < 10
