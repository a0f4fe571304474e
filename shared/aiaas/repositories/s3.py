"""What the buckets' repositories share: encryption at rest and presigned uploads."""

from __future__ import annotations

from typing import Any

from aiaas.repositories.dynamo import aws_errors

SSE = {"x-amz-server-side-encryption": "AES256"}


def presigned_post(
    client: Any, bucket: str, key: str, max_bytes: int, expires: int
) -> dict[str, Any]:
    """A presigned POST of at most ``max_bytes``, encrypted at rest: ``{"url", "fields"}``.

    Uploads go straight to S3: Lambda's 6 MB payload limit rules out passing files through
    the API.
    """
    with aws_errors("signing the upload"):
        post = client.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields=dict(SSE),
            Conditions=[["content-length-range", 1, max_bytes], dict(SSE)],
            ExpiresIn=expires,
        )
    return {"url": post["url"], "fields": post["fields"]}
