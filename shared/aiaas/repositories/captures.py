"""Captured requests in S3: JSONL files under each version's prefix, encrypted, tagged so
the bucket's lifecycle rule expires them (30 days), listed and read by presigned GET."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

from aiaas.repositories.dynamo import aws_errors

CAPTURE_TAG = "aiaas-capture=1"  # template.yaml: the weights bucket's capture expiry rule


def moment_key(moment: float) -> str:
    """The part of a capture file's key that its start time makes (``<day>/<hhmmss><us>``)."""
    stamp = time.gmtime(moment)
    micros = int(moment * 1_000_000) % 1_000_000
    return f"{time.strftime('%Y-%m-%d', stamp)}/{time.strftime('%H%M%S', stamp)}{micros:06d}"


def capture_prefix(tenant: str, model: str, version: int | str) -> str:
    """Where a version's captures are: beside its weights, under the tenant's prefix that
    deleting the account removes."""
    return f"{tenant}/{model}/{version}/captures/"


class S3Captures:
    """Capture files of the weights bucket."""

    def __init__(self, client: Any, bucket: str, *, url_expires: int = 900) -> None:
        self.client = client
        self.bucket = bucket
        self.url_expires = url_expires

    def write(self, tenant: str, model: str, version: str, started: float, body: bytes) -> str:
        """Store one batch of records; its key (``<prefix><day>/<hhmmss><microseconds>-
        <random>.jsonl``: keys sort as their batches started, whatever the second)."""
        key = (
            f"{capture_prefix(tenant, model, version)}{moment_key(started)}-"
            f"{secrets.token_hex(6)}.jsonl"
        )
        with aws_errors("storing captured requests"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/x-ndjson",
                ServerSideEncryption="AES256",
                Tagging=CAPTURE_TAG,
            )
        return key

    def list(self, tenant: str, model: str, version: int, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` capture files of a version, newest first, each with a
        presigned GET (``url``, valid ``url_expires`` seconds)."""
        prefix = capture_prefix(tenant, model, version)
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            with aws_errors("listing captured requests"):
                page = self.client.list_objects_v2(**params)
            found += page.get("Contents", [])
            if not page.get("IsTruncated"):
                break
            params["ContinuationToken"] = page["NextContinuationToken"]
        found.sort(key=lambda o: str(o["Key"]), reverse=True)  # keys sort by time
        files = []
        for item in found[:limit]:
            with aws_errors("signing a capture download"):
                url = self.client.generate_presigned_url(
                    "get_object",
                    Params={"Bucket": self.bucket, "Key": item["Key"]},
                    ExpiresIn=self.url_expires,
                )
            files.append({"key": item["Key"].removeprefix(prefix), "size": item["Size"],
                          "url": url})  # fmt: skip
        return files

    def records(
        self,
        tenant: str,
        model: str,
        version: int,
        *,
        start: float | None = None,
        end: float | None = None,
        limit: int = 10_000,
    ) -> Iterator[dict[str, Any]]:
        """Captured records of a version, oldest first, from the files that started in
        [``start``, ``end``) (either open), at most ``limit``. A line that is not a JSON
        object is skipped (a capture file is the platform's own, never a user's)."""
        prefix = capture_prefix(tenant, model, version)
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if start is not None:
            params["StartAfter"] = prefix + moment_key(start)
        stop = prefix + moment_key(end) if end is not None else None
        given = 0
        while True:
            with aws_errors("listing captured requests"):
                page = self.client.list_objects_v2(**params)
            for item in page.get("Contents", []):
                if stop is not None and item["Key"] >= stop:
                    return
                with aws_errors("reading captured requests"):
                    body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                    data = body.read()
                for line in data.splitlines():
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(record, dict):
                        yield record
                        given += 1
                        if given >= limit:
                            return
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]
