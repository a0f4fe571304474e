"""What the buckets' repositories share: encryption at rest and presigned uploads."""

from __future__ import annotations

from typing import Any

from aiaas.errors import Unavailable
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


def delete_prefix(client: Any, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` for good: each stored version and delete marker
    (a versioned bucket keeps overwritten and deleted objects otherwise). Returns how many
    objects (keys) had a current or older version."""
    if not prefix.endswith("/"):
        raise ValueError("a prefix to delete must end with '/'")
    keys: set[str] = set()
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    while True:
        with aws_errors("listing objects to delete"):
            page = client.list_object_versions(**params)
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        keys.update(v["Key"] for v in page.get("Versions", []))
        for start in range(0, len(doomed), 1000):  # DeleteObjects' limit per call
            with aws_errors("deleting objects"):
                answer = client.delete_objects(
                    Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
                )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise Unavailable(f"deleting {first.get('Key')} failed ({first.get('Code')})")
        if not page.get("IsTruncated"):
            return len(keys)
        params["KeyMarker"] = page["NextKeyMarker"]
        params["VersionIdMarker"] = page["NextVersionIdMarker"]
