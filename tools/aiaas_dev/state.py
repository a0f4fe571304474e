"""``serve --state DIR``: the local stack's moto state kept across restarts.

On a clean stop (SIGINT, SIGTERM) the stack saves, before moto stops: every item of every
DynamoDB table it provisioned, every current object of every bucket (body, content type,
metadata, tags) and every secret's value (the JWT signing key: login tokens stay valid). At
the next start, after the template's resources are provisioned again and before any function
starts, the saved state is loaded back into them. Queued SQS messages are not kept (a batch
job still running at the stop does not finish), nor older object versions.

The directory holds ``state.json`` (tables, object index, secrets) and ``blobs/<sha256>`` (object
bodies), written to a new directory and renamed over the old one, so a stop that dies midway
leaves the previous state whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiaas_dev.provisioners import Provisioned

logger = logging.getLogger(__name__)
TABLE, BUCKET, SECRET = "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret"
VERSION = 1


def save_state(session: Any, resources: Iterable[Provisioned], directory: Path) -> dict[str, int]:
    """Write the provisioned resources' contents to ``directory``; counts per kind."""
    resources = list(resources)
    staging = directory.with_name(directory.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "blobs").mkdir(parents=True)
    state: dict[str, Any] = {"version": VERSION, "tables": {}, "buckets": {}, "secrets": {}}
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    for resource in resources:
        if resource.kind == TABLE:
            state["tables"][resource.logical_id] = _scan(dynamodb, resource.name)
        elif resource.kind == BUCKET:
            state["buckets"][resource.logical_id] = _objects(s3, resource.name, staging / "blobs")
        elif resource.kind == SECRET:
            answer = session.client("secretsmanager").get_secret_value(SecretId=resource.name)
            state["secrets"][resource.logical_id] = answer["SecretString"]
    (staging / "state.json").write_text(json.dumps(state))
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return _counts(state)


def load_state(session: Any, resources: Iterable[Provisioned], directory: Path) -> dict[str, int]:
    """Put a saved state back into the freshly provisioned resources; counts per kind.

    Resources are matched by logical ID; one the template no longer has is skipped with a
    warning, and an empty or missing directory loads nothing.
    """
    path = directory / "state.json"
    if not path.is_file():
        return {}
    state = json.loads(path.read_text())
    if state.get("version") != VERSION:
        raise RuntimeError(f"{path}: state version {state.get('version')}, expected {VERSION}")
    by_id = {resource.logical_id: resource for resource in resources}
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    secrets = session.client("secretsmanager")
    for table, items in _matched(by_id, state["tables"], TABLE):
        for item in items:
            dynamodb.put_item(TableName=table, Item=item)
    for bucket, objects in _matched(by_id, state["buckets"], BUCKET):
        for entry in objects:
            _put_object(s3, bucket, entry, directory / "blobs")
    for arn, value in _matched(by_id, state["secrets"], SECRET):
        secrets.put_secret_value(SecretId=arn, SecretString=value)
    return _counts(state)


def _matched(
    by_id: dict[str, Provisioned], saved: dict[str, Any], kind: str
) -> list[tuple[str, Any]]:
    """(name in moto, saved contents) of each saved resource the template still has."""
    matched = []
    for logical_id, contents in saved.items():
        resource = by_id.get(logical_id)
        if resource is None or resource.kind != kind:
            logger.warning("saved %s skipped: the template has no such %s", logical_id, kind)
            continue
        matched.append((resource.name, contents))
    return matched


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**params)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _objects(s3: Any, bucket: str, blobs: Path) -> list[dict[str, Any]]:
    entries = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for listed in page.get("Contents", []):
            key = listed["Key"]
            answer = s3.get_object(Bucket=bucket, Key=key)
            body = answer["Body"].read()
            digest = hashlib.sha256(body).hexdigest()
            (blobs / digest).write_bytes(body)
            tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
            entries.append(
                {
                    "key": key,
                    "blob": digest,
                    "content_type": answer.get("ContentType", "binary/octet-stream"),
                    "metadata": answer.get("Metadata", {}),
                    "encryption": answer.get("ServerSideEncryption", ""),
                    "tags": tags,
                }
            )
    return entries


def _put_object(s3: Any, bucket: str, entry: dict[str, Any], blobs: Path) -> None:
    params: dict[str, Any] = {
        "Bucket": bucket,
        "Key": entry["key"],
        "Body": (blobs / entry["blob"]).read_bytes(),
        "ContentType": entry["content_type"],
        "Metadata": entry["metadata"],
    }
    if entry["encryption"]:
        params["ServerSideEncryption"] = entry["encryption"]
    if entry["tags"]:
        params["Tagging"] = urlencode([(t["Key"], t["Value"]) for t in entry["tags"]])
    s3.put_object(**params)


def _counts(state: dict[str, Any]) -> dict[str, int]:
    return {
        "items": sum(len(items) for items in state["tables"].values()),
        "objects": sum(len(objects) for objects in state["buckets"].values()),
        "secrets": len(state["secrets"]),
    }
