"""Upload the built web console (``make console``: build/console) to a deployed stack.

Usage: python tools/console_deploy.py --stack NAME [--dir build/console] [--region R]

Reads the stack's ``ConsoleBucketName`` and ``ConsoleDistributionId`` outputs, uploads every
file with its content type (HTML, JavaScript, CSS and openapi.json revalidated on each load;
the vendored libraries cached for a day), deletes files the build no longer has, then
invalidates the distribution's cache so the new console shows at once. Prints the
``ConsoleUrl``.
"""

from __future__ import annotations

import argparse
import mimetypes
import time
from pathlib import Path
from typing import Any

import boto3

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".json": "application/json"}  # fmt: skip
REVALIDATE = "no-cache"  # the edge keeps it, but asks the bucket whether it changed
VENDORED = "public, max-age=86400"


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's outputs, by key."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def headers_for(key: str) -> dict[str, str]:
    """Content type and cache policy of one file of the console."""
    suffix = Path(key).suffix
    kind = TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"
    cache = VENDORED if key.startswith("vendor/") else REVALIDATE
    return {"ContentType": kind, "CacheControl": cache}


def upload(s3: Any, bucket: str, directory: Path) -> tuple[int, int]:
    """Upload every file, delete the bucket's others; (uploaded, deleted)."""
    keys = {p.relative_to(directory).as_posix(): p for p in directory.rglob("*") if p.is_file()}
    for key, path in sorted(keys.items()):
        s3.upload_file(str(path), bucket, key, ExtraArgs=headers_for(key))
    stale = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
        if item["Key"] not in keys
    ]
    for start in range(0, len(stale), 1000):
        objects = [{"Key": key} for key in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    return len(keys), len(stale)


def main() -> int:
    """Upload, clean up and invalidate; 1 when the build or the stack's outputs are missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--dir", type=Path, default=Path("build/console"))
    parser.add_argument("--region", default=None)
    args = parser.parse_args()
    if not (args.dir / "index.html").is_file():
        print(f"no console in {args.dir}: run `make console` first")
        return 1
    session = boto3.Session(region_name=args.region)
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    if "ConsoleBucketName" not in outputs:
        print(f"stack {args.stack} has no ConsoleBucketName output: deploy template.yaml first")
        return 1
    uploaded, deleted = upload(session.client("s3"), outputs["ConsoleBucketName"], args.dir)
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["ConsoleDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"console-{args.stack}-{time.time_ns()}",
        },
    )
    print(
        f"{uploaded} files uploaded, {deleted} stale deleted; the console: {outputs['ConsoleUrl']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
