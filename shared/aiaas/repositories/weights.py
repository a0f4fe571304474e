"""Model weights in S3: presigned uploads, reads and encrypted writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.repositories.dynamo import aws_errors
from aiaas.repositories.s3 import delete_prefix, presigned_post

DELETED_TAG = "aiaas-deleted"  # template.yaml's lifecycle rule expires tagged objects


class S3Weights:
    """One bucket of uploads and registered artifacts."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def presign(self, key: str, max_bytes: int, expires: int) -> dict[str, Any]:
        """A presigned POST limited to ``max_bytes``, encrypted at rest (Lambda's 6 MB payload
        limit rules out uploading weights through the API)."""
        return presigned_post(self.client, self.bucket, key, max_bytes, expires)

    def read(self, key: str, max_bytes: int) -> bytes:
        """An object's bytes (refusing to read more than ``max_bytes``)."""
        with aws_errors("reading the upload"):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            if int(head["ContentLength"]) > max_bytes:
                raise ValueError(f"object is {head['ContentLength']} bytes")
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def size(self, key: str) -> int:
        """An object's size in bytes."""
        with aws_errors("reading the upload"):
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])

    def exists(self, key: str) -> bool:
        """Whether an object is there."""
        try:
            with aws_errors("reading the upload", "404", "NoSuchKey", "NotFound"):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def write(self, key: str, data: bytes) -> str:
        """Store an artifact with server-side encryption; return its ``s3://`` URI."""
        with aws_errors("storing an artifact"):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256"
            )
        return f"s3://{self.bucket}/{key}"

    def download(self, uri: str, destination: Path) -> None:
        """Copy an artifact of this bucket to a local file (the serving cache)."""
        key = uri.removeprefix(f"s3://{self.bucket}/")
        with aws_errors("downloading model weights"):
            self.client.download_file(self.bucket, key, str(destination))

    def erase_tenant(self, tenant: str) -> int:
        """Delete the tenant's registered artifacts and uploads, every stored version of them
        (a deleted account's weights do not wait for the lifecycle rule). Returns objects."""
        return sum(
            delete_prefix(self.client, self.bucket, prefix)
            for prefix in (f"{tenant}/", f"uploads/{tenant}/")
        )

    def mark_deleted(self, uri: str) -> None:
        """Tag an artifact so the bucket's lifecycle rule expires it after the retention period."""
        prefix = f"s3://{self.bucket}/"
        if not uri.startswith(prefix):
            return  # built-in models live in the layer
        with aws_errors("tagging a deleted artifact"):
            self.client.put_object_tagging(
                Bucket=self.bucket,
                Key=uri.removeprefix(prefix),
                Tagging={"TagSet": [{"Key": DELETED_TAG, "Value": "true"}]},
            )
