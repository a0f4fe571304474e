"""A small AWS JSON-protocol client (SigV4 over http.client) for the cold-start-critical path.

boto3 costs ~250 ms to import and ~100 ms to make a client (measured here): more than the
authorizer's whole 150 ms cold-start budget, and a third of the predict function's. Those
two need three calls (DynamoDB GetItem and TransactWriteItems, Secrets Manager
GetSecretValue); this client makes them with the standard library and answers with boto3's
dict shapes, so the same repository classes accept either client (tests run both on moto).
Credentials come from the environment, as Lambda provides them.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import random
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

JSON_VERSIONS = {"dynamodb": "1.0", "secretsmanager": "1.1"}
# Answers worth another try: throttling and the service's own failures (botocore's list).
RETRYABLE = frozenset(
    {
        "ThrottlingException", "ProvisionedThroughputExceededException",
        "RequestLimitExceeded", "Throttling", "TooManyRequestsException",
        "InternalServerError", "InternalFailure", "ServiceUnavailable",
        "TransactionInProgressException",
    }
)  # fmt: skip
# When the caller's invocation ends (time.monotonic()); handlers set it from Lambda's context.
DEADLINE: ContextVar[float | None] = ContextVar("aiaas_deadline", default=None)
TARGETS = {"dynamodb": "DynamoDB_20120810", "secretsmanager": "secretsmanager"}


def set_deadline(context: Any, margin_s: float = 0.5) -> None:
    """Bound this invocation's retries by Lambda's remaining time (``context`` may be None)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        DEADLINE.set(time.monotonic() + remaining() / 1000 - margin_s)


class AwsError(Exception):
    """An AWS error answer, shaped like botocore's ClientError (``response["Error"]``)."""

    def __init__(self, code: str, message: str, status: int, details: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        # botocore also lifts extra fields (e.g. CancellationReasons) to the top level
        self.response = {**details, "Error": {"Code": code, "Message": message}, "status": status}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    *,
    method: str,
    host: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    service: str,
    region: str,
    credentials: tuple[str, str, str | None],
    now: datetime,
) -> dict[str, str]:
    """Return ``headers`` plus the SigV4 ``Authorization`` (and date, token) headers."""
    access_key, secret_key, token = credentials
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    signed = {**{k.lower(): v.strip() for k, v in headers.items()}, "host": host,
              "x-amz-date": amz_date}  # fmt: skip
    if token:
        signed["x-amz-security-token"] = token
    names = sorted(signed)
    canonical = "\n".join(
        [method, path, "", *(f"{n}:{signed[n]}" for n in names), "", ";".join(names),
         hashlib.sha256(body).hexdigest()]
    )  # fmt: skip
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


class LiteClient:
    """Just enough of a boto3 client for the hot paths: the authorizer's reads and the
    predict function's metering transaction."""

    def __init__(
        self,
        service: str,
        *,
        region: str | None = None,
        timeout: float = 3.0,
        attempts: int = 4,
        base_delay: float = 0.025,
        max_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.sleep = sleep
        self.clock = clock
        self.region = region or os.environ.get("AWS_REGION") or os.environ["AWS_DEFAULT_REGION"]
        endpoint = (
            os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")
            or os.environ.get("AWS_ENDPOINT_URL")
            or f"https://{service}.{self.region}.amazonaws.com"
        )
        parts = urlsplit(endpoint)
        self.host = parts.netloc
        self.secure = parts.scheme == "https"
        self.timeout = timeout
        self._local = threading.local()

    def get_item(self, **params: Any) -> dict[str, Any]:
        """DynamoDB GetItem with boto3's parameters and answer."""
        return self.call("GetItem", params)

    def query(self, **params: Any) -> dict[str, Any]:
        """DynamoDB Query with boto3's parameters and answer."""
        return self.call("Query", params)

    def transact_write_items(self, **params: Any) -> dict[str, Any]:
        """DynamoDB TransactWriteItems with boto3's parameters and answer."""
        return self.call("TransactWriteItems", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        """DynamoDB UpdateItem with boto3's parameters and answer."""
        return self.call("UpdateItem", params)

    def get_secret_value(self, **params: Any) -> dict[str, Any]:
        """Secrets Manager GetSecretValue with boto3's parameters and answer."""
        return self.call("GetSecretValue", params)

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """POST one JSON-protocol operation; raise AwsError for an error answer.

        Throttling and 5xx answers are tried again, up to ``attempts`` in all, after a
        full-jitter exponential delay (``base_delay`` x 2^n, at most ``max_delay``), and
        never past the caller's `DEADLINE`: the last error is raised instead.
        """
        for attempt in range(1, self.attempts + 1):
            try:
                return self._call_once(operation, params)
            except AwsError as exc:
                if exc.code not in RETRYABLE and exc.status < 500:
                    raise
                delay = random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # noqa: S311 - jitter
                deadline = DEADLINE.get()
                if attempt == self.attempts or (
                    deadline is not None and self.clock() + delay > deadline
                ):
                    raise
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _call_once(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(params).encode()
        headers = sign(
            method="POST", host=self.host, path="/", body=body, service=self.service,
            region=self.region, credentials=_credentials(), now=datetime.now(UTC),
            headers={"content-type": f"application/x-amz-json-{JSON_VERSIONS[self.service]}",
                     "x-amz-target": f"{TARGETS[self.service]}.{operation}"},
        )  # fmt: skip
        status, payload = self._post(body, headers)
        answer: dict[str, Any] = json.loads(payload or b"{}")
        if status >= 400:
            code = str(answer.get("__type", "UnknownError")).rsplit("#", 1)[-1]
            message = str(answer.get("message") or answer.get("Message") or "")
            details = {k: v for k, v in answer.items() if k not in {"__type", "message", "Message"}}
            raise AwsError(code, message, status, details)
        return answer

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in (1, 2):  # a kept-alive connection may have been closed by the peer
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if connection is None or fresh:
            factory = http.client.HTTPSConnection if self.secure else http.client.HTTPConnection
            connection = factory(self.host, timeout=self.timeout)
            self._local.conn = connection
        return connection


def _credentials() -> tuple[str, str, str | None]:
    return (
        os.environ["AWS_ACCESS_KEY_ID"],
        os.environ["AWS_SECRET_ACCESS_KEY"],
        os.environ.get("AWS_SESSION_TOKEN"),
    )


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError or an AwsError; None otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "") or None
    return None
