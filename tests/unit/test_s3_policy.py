"""The local stack's presigned POST guard (tools/aiaas_dev/s3_policy.py): forms boto3 signs
pass; an expired, edited, oversized or forged one gets S3's refusal, before moto sees it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from werkzeug.test import EnvironBuilder

from aiaas_dev.s3_policy import PresignedPostGuard

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def form(signature_version: str = "s3v4", key: str = "uploads/t1/m/1/f/model.onnx") -> dict:
    """A presigned POST as the functions make it (aiaas.repositories.s3.presigned_post)."""
    s3 = boto3.client(
        "s3", endpoint_url="http://127.0.0.1:1", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(signature_version=signature_version),
    )  # fmt: skip
    sse = {"x-amz-server-side-encryption": "AES256"}
    post: dict[str, Any] = s3.generate_presigned_post(
        Bucket="weights", Key=key, Fields=dict(sse),
        Conditions=[["content-length-range", 1, 100], dict(sse)], ExpiresIn=600,
    )  # fmt: skip
    return post


class Moto:
    """What reaches moto."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.bodies.append(environ["wsgi.input"].read())
        start_response("204 No Content", [])
        return [b""]


def post(fields: dict[str, str], data: bytes, bucket: str = "weights", at: datetime = NOW) -> Any:
    moto = Moto()
    guard = PresignedPostGuard(moto, "testing", clock=lambda: at)
    builder = EnvironBuilder(
        method="POST", path=f"/{bucket}", data={**fields, "file": (io.BytesIO(data), "model.onnx")}
    )
    statuses: list[str] = []
    body = b"".join(guard(builder.get_environ(), lambda status, headers: statuses.append(status)))
    return statuses[0], body, moto.bodies


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_a_form_as_signed_passes_whole_to_moto(version: str) -> None:
    signed = form(version)
    status, _, reached = post(signed["fields"], b"onnx bytes", at=datetime.now(UTC))
    assert status.startswith("204")
    assert len(reached) == 1 and b"onnx bytes" in reached[0]


def test_another_key_than_the_policys_is_refused() -> None:
    # a tenant edits its own form to write over another tenant's pending upload
    fields = {**form()["fields"], "key": "uploads/t2/theirs/1/g/model.onnx"}
    status, body, reached = post(fields, b"x", at=datetime.now(UTC))
    assert status.startswith("403") and b"Policy Condition failed" in body and b"key" in body
    assert reached == []


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"x-amz-server-side-encryption": "aws:kms"}, "403", b"AccessDenied"),  # edited field
        ({"x-amz-meta-owner": "me"}, "403", b"Extra input fields"),  # a field not in the policy
        ({"x-amz-signature": "0" * 64}, "403", b"SignatureDoesNotMatch"),  # forged
    ],
)
def test_an_edited_or_forged_form_is_refused(change: dict, status: str, code: bytes) -> None:
    got, body, reached = post({**form()["fields"], **change}, b"x", at=datetime.now(UTC))
    assert got.startswith(status) and code in body and reached == []


def test_an_expired_form_and_sizes_outside_the_range_are_refused() -> None:
    fields = form()["fields"]
    late = datetime.now(UTC) + timedelta(seconds=601)
    status, body, _ = post(fields, b"x", at=late)
    assert status.startswith("403") and b"Policy expired" in body
    status, body, _ = post(fields, b"x" * 101, at=datetime.now(UTC))
    assert status.startswith("400") and b"EntityTooLarge" in body
    status, body, _ = post(fields, b"", at=datetime.now(UTC))
    assert status.startswith("400") and b"EntityTooSmall" in body


def test_other_requests_pass_untouched() -> None:
    moto = Moto()
    guard = PresignedPostGuard(moto, "testing")
    for method, path, query in (("PUT", "/weights/k", ""), ("POST", "/weights", "delete")):
        environ = EnvironBuilder(
            method=method, path=path, query_string=query, data=b"d"
        ).get_environ()
        guard(environ, lambda *a: None)
    assert moto.bodies == [b"d", b"d"]
