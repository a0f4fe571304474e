"""The batch bucket: presigned uploads and output links, chunks, results, the assembled output."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from aiaas.aws.lite import error_code
from aiaas.batch.inputs import stream_lines
from aiaas.repositories.dynamo import aws_errors
from aiaas.repositories.s3 import delete_prefix, presigned_post

JSONL = "application/jsonl"
MISSING = ("404", "NoSuchKey")  # HeadObject's code for a missing key, GetObject's
ASSEMBLY_SPOOL_BYTES = 64 * 1024 * 1024  # outputs larger than this spill to /tmp


class S3BatchFiles:
    """One bucket of batch inputs and outputs."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def presign_upload(self, key: str, max_bytes: int, expires: int) -> dict[str, Any]:
        """A presigned POST for an input file (at most ``max_bytes``, encrypted at rest)."""
        return presigned_post(self.client, self.bucket, key, max_bytes, expires)

    def erase(self, keys: Iterable[str], prefixes: Iterable[str]) -> int:
        """Delete objects and everything under ``prefixes`` (every version); how many."""
        return sum(delete_prefix(self.client, self.bucket, p) for p in prefixes) + sum(
            self._delete_key(key) for key in keys
        )

    def _delete_key(self, key: str) -> int:
        if self.head(key) is None:
            return 0
        with aws_errors("deleting a batch file"):
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return 1

    def presign_download(self, key: str, expires: int) -> str:
        """A presigned GET of an output."""
        with aws_errors("signing the output link"):
            url: str = self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires
            )
        return url

    def head(self, key: str) -> dict[str, Any] | None:
        """An object's size and ETag; None when it does not exist."""
        try:
            with aws_errors("reading the input", *MISSING):
                answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if error_code(exc) in MISSING:
                return None
            raise
        return {"size": int(answer["ContentLength"]), "etag": str(answer["ETag"]).strip('"')}

    def lines(self, key: str) -> Iterator[bytes]:
        """An object's lines, streamed."""
        with aws_errors("reading the input"):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return stream_lines(body)

    def read(self, key: str) -> bytes:
        """A (small) object's bytes."""
        with aws_errors("reading a chunk"):
            data: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def write(self, key: str, data: bytes) -> None:
        """Store an object, encrypted at rest."""
        with aws_errors("writing a chunk"):
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ServerSideEncryption="AES256"
            )

    def concatenate(self, keys: Iterable[str], destination: str) -> int:
        """Write the objects ``keys``, in order, as one object; returns its size.

        Parts are copied through a spooled file (memory, then /tmp) and uploaded by boto3's
        managed transfer (multipart for large outputs).
        """
        with tempfile.SpooledTemporaryFile(max_size=ASSEMBLY_SPOOL_BYTES) as spool:
            for key in keys:
                with aws_errors("reading a result"):
                    body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
                while block := body.read(1 << 20):
                    spool.write(block)
            size = spool.tell()
            spool.seek(0)
            with aws_errors("writing the output"):
                self.client.upload_fileobj(
                    spool,
                    self.bucket,
                    destination,
                    ExtraArgs={"ServerSideEncryption": "AES256", "ContentType": JSONL},
                )
        return size


class SqsChunks:
    """The queue of chunk messages."""

    BATCH = 10  # SendMessageBatch's limit

    def __init__(self, client: Any, queue_url: str) -> None:
        self.client = client
        self.queue_url = queue_url

    def send(self, bodies: list[str]) -> None:
        """Send every body; raises if any could not be sent (the sender retries them all)."""
        for start in range(0, len(bodies), self.BATCH):
            entries = [
                {"Id": str(index), "MessageBody": body}
                for index, body in enumerate(bodies[start : start + self.BATCH])
            ]
            with aws_errors("queueing chunks"):
                answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if answer.get("Failed"):
                first = answer["Failed"][0]
                raise RuntimeError(
                    f"SQS refused a chunk: {first.get('Code')} {first.get('Message')}"
                )
