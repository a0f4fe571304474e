"""Drift reports and baselines in the weights bucket, beside each version's weights.

| object | key, under ``<tenant>/<model>/<version>/`` |
|---|---|
| baseline | ``baseline.json`` |
| a run's violations | ``drift/<yyyy-mm-ddThhmmssZ>/constraint_violations.json`` |
| a run's statistics | ``drift/<yyyy-mm-ddThhmmssZ>/statistics.json`` (the whole report) |
| the newest report | ``drift/latest.json`` |

Everything is under the tenant's prefix (deleting the account removes it) and encrypted.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.repositories.dynamo import aws_errors

MAX_BASELINE_BYTES = 8 * 1024 * 1024
_MISSING = ("NoSuchKey", "404", "NotFound")


def drift_prefix(tenant: str, model: str, version: int | str) -> str:
    """Where a version's drift reports are."""
    return f"{tenant}/{model}/{version}/drift/"


def baseline_key(tenant: str, model: str, version: int | str) -> str:
    """Where a version's baseline is."""
    return f"{tenant}/{model}/{version}/baseline.json"


class S3DriftReports:
    """Baselines and drift reports of the weights bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def _put(self, key: str, document: Any) -> str:
        with aws_errors("storing a drift document"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=json.dumps(document, separators=(",", ":")).encode(),
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        return f"s3://{self.bucket}/{key}"

    def _get(self, key: str) -> Any:
        try:
            with aws_errors("reading a drift document", *_MISSING):
                head = self.client.head_object(Bucket=self.bucket, Key=key)
                if int(head["ContentLength"]) > MAX_BASELINE_BYTES:
                    raise ValueError(f"{key} is {head['ContentLength']} bytes")
                data = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        return json.loads(data)

    def write_baseline(self, tenant: str, model: str, version: int, baseline: Any) -> str:
        """Store a version's baseline; its ``s3://`` URI."""
        return self._put(baseline_key(tenant, model, version), baseline)

    def read_baseline(self, uri: str) -> Any:
        """A baseline by its URI (one of this bucket's); None if it is gone."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if bucket != self.bucket:
            raise ValueError(f"baseline {uri} is not in the weights bucket")
        return self._get(key)

    def write_report(self, tenant: str, model: str, version: int, report: dict[str, Any]) -> str:
        """Store one run's report (its violations file, its statistics, and as the latest);
        the run's folder key."""
        run = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime(report["window"]["end"]))
        folder = f"{drift_prefix(tenant, model, version)}{run}/"
        self._put(folder + "constraint_violations.json", report["violations"])
        self._put(folder + "statistics.json", report)
        self._put(drift_prefix(tenant, model, version) + "latest.json", report)
        return folder

    def latest(self, tenant: str, model: str, version: int) -> dict[str, Any] | None:
        """A version's newest report, None before the first."""
        found = self._get(drift_prefix(tenant, model, version) + "latest.json")
        return found if isinstance(found, dict) else None
