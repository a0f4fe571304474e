"""Create a template's resources in moto: DynamoDB tables, Secrets Manager secrets, S3 buckets,
SQS queues.

Each provisioner takes the resource's logical ID, its local name (`physical_name`), its
resolved properties and a boto3 session bound to moto, and returns what ``Ref`` and
``Fn::GetAtt`` give for the resource as created (a secret's ``Ref`` is the ARN moto made).
Properties that change nothing locally (point-in-time recovery, encryption, deletion
protection, a queue's server-side encryption) are ignored.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiaas_dev.resources import QUEUE_TYPE, bucket_values, queue_values, secret_values, table_values

logger = logging.getLogger(__name__)

DEFAULT_PASSWORD_LENGTH = 32  # Secrets Manager's default for a generated secret


@dataclass(frozen=True)
class Provisioned:
    """One resource created in moto.

    Attributes:
        logical_id: The template's logical ID.
        kind: The resource type.
        name: Its name (a secret's ARN for a secret).
        values: ``Ref`` and ``Logical.Attribute`` values for the resolver.
        details: Short notes for the start banner (``GSI gsi1``, ``TTL expires_at``).
    """

    logical_id: str
    kind: str
    name: str
    values: dict[str, str]
    details: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        """One line for the start banner."""
        notes = f" ({', '.join(self.details)})" if self.details else ""
        return f"{self.kind:<28} {self.logical_id:<20} {self.name}{notes}"


def _flag(value: Any) -> bool:
    """A CloudFormation boolean: ``true``/``True``/``"true"``."""
    return str(value).lower() == "true"


def _throughput(props: Mapping[str, Any]) -> dict[str, int]:
    throughput = props.get("ProvisionedThroughput") or {}
    return {key: int(throughput.get(key, 1)) for key in ("ReadCapacityUnits", "WriteCapacityUnits")}


def _indexes(props: Mapping[str, Any], key: str, provisioned: bool) -> list[dict[str, Any]]:
    indexes: list[dict[str, Any]] = []
    for index in props.get(key) or []:
        spec = {name: index[name] for name in ("IndexName", "KeySchema", "Projection")}
        if provisioned and key == "GlobalSecondaryIndexes":
            spec["ProvisionedThroughput"] = _throughput(index)
        indexes.append(spec)
    return indexes


def _table_request(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """``create_table`` arguments from ``AWS::DynamoDB::Table`` properties."""
    billing = str(props.get("BillingMode", "PROVISIONED"))
    provisioned = billing == "PROVISIONED"
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    if provisioned:
        request["ProvisionedThroughput"] = _throughput(props)
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            request[key] = _indexes(props, key, provisioned)
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    if props.get("Tags"):
        request["Tags"] = props["Tags"]
    return request


def create_table(logical_id: str, name: str, props: dict[str, Any], session: Any) -> Provisioned:
    """Create an ``AWS::DynamoDB::Table`` (indexes, stream, then TTL)."""
    client = session.client("dynamodb")
    request = _table_request(name, props)
    description = client.create_table(**request)["TableDescription"]
    values = table_values(logical_id, name)
    details = [f"GSI {i['IndexName']}" for i in request.get("GlobalSecondaryIndexes", [])]
    details += [f"LSI {i['IndexName']}" for i in request.get("LocalSecondaryIndexes", [])]
    if "LatestStreamArn" in description:
        values[f"{logical_id}.StreamArn"] = description["LatestStreamArn"]
        details.append(f"stream {request['StreamSpecification']['StreamViewType']}")
    ttl = props.get("TimeToLiveSpecification") or {}
    if _flag(ttl.get("Enabled", False)):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
        details.append(f"TTL {ttl['AttributeName']}")
    return Provisioned(logical_id, "AWS::DynamoDB::Table", name, values, tuple(details))


def generate_secret_string(options: Mapping[str, Any], rng: random.Random | None = None) -> str:
    """A secret value as Secrets Manager's ``GenerateSecretString`` makes it.

    Args:
        options: ``PasswordLength`` (32), ``ExcludeCharacters``, ``ExcludeLowercase``,
            ``ExcludeUppercase``, ``ExcludeNumbers``, ``ExcludePunctuation``,
            ``IncludeSpace``, ``RequireEachIncludedType`` (true), and together
            ``SecretStringTemplate`` (a JSON object) and ``GenerateStringKey``.
        rng: The random source (`secrets.SystemRandom` if not given).

    Returns:
        The password, or the template's JSON with the password under ``GenerateStringKey``.

    Raises:
        ValueError: No characters are left to choose from, or the length is too short.
    """
    password = _password(options, rng or secrets.SystemRandom())
    if "SecretStringTemplate" not in options:
        return password
    document = json.loads(str(options["SecretStringTemplate"]))
    document[str(options["GenerateStringKey"])] = password
    return json.dumps(document)


def _password(options: Mapping[str, Any], rng: random.Random) -> str:
    excluded = set(str(options.get("ExcludeCharacters", "")))
    groups = [
        chars
        for option, chars in (
            ("ExcludeLowercase", string.ascii_lowercase),
            ("ExcludeUppercase", string.ascii_uppercase),
            ("ExcludeNumbers", string.digits),
            ("ExcludePunctuation", string.punctuation),
        )
        if not _flag(options.get(option, False))
    ]
    if _flag(options.get("IncludeSpace", False)):
        groups.append(" ")
    groups = ["".join(c for c in chars if c not in excluded) for chars in groups]
    groups = [chars for chars in groups if chars]
    length = int(options.get("PasswordLength", DEFAULT_PASSWORD_LENGTH))
    if not groups or length < 1:
        raise ValueError("GenerateSecretString leaves no characters to choose from")
    chars = [rng.choice("".join(groups)) for _ in range(length)]
    if _flag(options.get("RequireEachIncludedType", True)):
        if length < len(groups):
            raise ValueError("PasswordLength is shorter than the character types it requires")
        for position, group in zip(rng.sample(range(length), len(groups)), groups, strict=True):
            chars[position] = rng.choice(group)
    return "".join(chars)


def create_secret(logical_id: str, name: str, props: dict[str, Any], session: Any) -> Provisioned:
    """Create an ``AWS::SecretsManager::Secret``: ``SecretString`` or a generated one."""
    generated = "SecretString" not in props
    if generated:
        value = generate_secret_string(props.get("GenerateSecretString") or {})
    else:
        value = str(props["SecretString"])
    request: dict[str, Any] = {"Name": name, "SecretString": value}
    for key in ("Description", "Tags"):
        if props.get(key):
            request[key] = props[key]
    arn = session.client("secretsmanager").create_secret(**request)["ARN"]
    details = ("generated",) if generated else ()
    return Provisioned(
        logical_id, "AWS::SecretsManager::Secret", arn, secret_values(logical_id, arn), details
    )


def _bucket_versioning(client: Any, name: str, setting: Any) -> str:
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": setting["Status"]})
    return f"versioning {setting['Status']}"


# Bucket property -> what applies it in moto (returns a note for the banner). Add
# "NotificationConfiguration" here (S3 -> SQS/Lambda) when the template gains one.
BUCKET_SETTINGS: dict[str, Callable[[Any, str, Any], str]] = {
    "VersioningConfiguration": _bucket_versioning,
}
_IGNORED_BUCKET_SETTINGS = frozenset(
    {"BucketName", "BucketEncryption", "PublicAccessBlockConfiguration", "Tags"}
)


def create_bucket(logical_id: str, name: str, props: dict[str, Any], session: Any) -> Provisioned:
    """Create an ``AWS::S3::Bucket`` and apply the settings `BUCKET_SETTINGS` knows."""
    client = session.client("s3")
    client.create_bucket(Bucket=name)  # us-east-1: no LocationConstraint
    details: list[str] = []
    for key, setting in props.items():
        if key in BUCKET_SETTINGS:
            details.append(BUCKET_SETTINGS[key](client, name, setting))
        elif key not in _IGNORED_BUCKET_SETTINGS:
            logger.warning("%s: %s is not applied locally", logical_id, key)
    return Provisioned(
        logical_id, "AWS::S3::Bucket", name, bucket_values(logical_id, name), tuple(details)
    )


# Queue properties moto takes as they are, as queue attributes (values as strings).
QUEUE_ATTRIBUTES = frozenset(
    {
        "ContentBasedDeduplication",
        "DeduplicationScope",
        "DelaySeconds",
        "FifoQueue",
        "FifoThroughputLimit",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "ReceiveMessageWaitTimeSeconds",
        "VisibilityTimeout",
    }
)
_IGNORED_QUEUE_SETTINGS = frozenset(
    {
        "QueueName",
        "SqsManagedSseEnabled",
        "KmsMasterKeyId",
        "KmsDataKeyReusePeriodSeconds",
        "RedriveAllowPolicy",
        "Tags",
    }
)


def redrive_policy(policy: Any) -> str:
    """A queue's ``RedrivePolicy`` as SQS takes it (an object in the template, or its JSON).

    Returns:
        JSON with ``deadLetterTargetArn`` and ``maxReceiveCount`` (an integer).

    Raises:
        KeyError: A key is missing.
        ValueError: ``maxReceiveCount`` is not an integer, or the JSON is not JSON.
    """
    document = json.loads(policy) if isinstance(policy, str) else policy
    return json.dumps(
        {
            "deadLetterTargetArn": str(document["deadLetterTargetArn"]),
            "maxReceiveCount": int(document["maxReceiveCount"]),
        }
    )


def queue_attributes(logical_id: str, props: Mapping[str, Any]) -> dict[str, str]:
    """``CreateQueue`` attributes from ``AWS::SQS::Queue`` properties (others: a warning)."""
    attributes: dict[str, str] = {}
    for key, value in props.items():
        if key in QUEUE_ATTRIBUTES:
            attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
        elif key == "RedrivePolicy":
            attributes[key] = redrive_policy(value)
        elif key not in _IGNORED_QUEUE_SETTINGS:
            logger.warning("%s: %s is not applied locally", logical_id, key)
    if attributes.get("FifoQueue", "").lower() == "false":
        del attributes["FifoQueue"]  # SQS takes FifoQueue only on FIFO queues
    return attributes


def _queue_details(attributes: Mapping[str, str]) -> tuple[str, ...]:
    details = ["FIFO"] if attributes.get("FifoQueue", "").lower() == "true" else []
    if "VisibilityTimeout" in attributes:
        details.append(f"visibility {attributes['VisibilityTimeout']} s")
    if "RedrivePolicy" in attributes:
        policy = json.loads(attributes["RedrivePolicy"])
        dlq = str(policy["deadLetterTargetArn"]).rpartition(":")[2]
        details.append(f"DLQ {dlq} after {policy['maxReceiveCount']} receives")
    return tuple(details)


def create_queue(logical_id: str, name: str, props: dict[str, Any], session: Any) -> Provisioned:
    """Create an ``AWS::SQS::Queue`` (its dead-letter queue, if any, exists already)."""
    attributes = queue_attributes(logical_id, props)
    request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if props.get("Tags"):
        request["tags"] = {str(tag["Key"]): str(tag["Value"]) for tag in props["Tags"]}
    url = session.client("sqs").create_queue(**request)["QueueUrl"]
    values = queue_values(logical_id, name, url)
    return Provisioned(logical_id, QUEUE_TYPE, name, values, _queue_details(attributes))
