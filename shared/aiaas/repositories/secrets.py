"""Secrets Manager: the JWT signing key, read once per process and refreshed every 5 minutes."""

from __future__ import annotations

import threading
import time
from typing import Any

from aiaas.errors import Unavailable
from aiaas.repositories.dynamo import aws_errors


class SecretReader:
    """A cached ``GetSecretValue`` of one secret (rotation shows within ``ttl`` seconds)."""

    def __init__(self, client: Any, secret_id: str, ttl: float = 300.0) -> None:
        self.client = client
        self.secret_id = secret_id
        self.ttl = ttl
        self._value: str | None = None
        self._fetched = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        """The secret string."""
        with self._lock:
            if self._value is None or time.monotonic() - self._fetched > self.ttl:
                with aws_errors("reading the signing key"):
                    answer = self.client.get_secret_value(SecretId=self.secret_id)
                value = answer.get("SecretString")
                if not value:
                    raise Unavailable("the signing key secret is empty")
                self._value, self._fetched = str(value), time.monotonic()
            return self._value
