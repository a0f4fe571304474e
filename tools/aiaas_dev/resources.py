"""Local names of template resources: what ``Ref`` and ``Fn::GetAtt`` give for each resource.

Before moto runs (``event``, ``--no-moto``) every resource has a predictable local value: a
table or bucket its name, a function its name, a secret a partial ARN without the random
suffix, a queue its URL as SQS writes it. Once moto has created a resource, its provisioner
returns the real values (a secret's ARN as moto made it, a queue's URL on moto's endpoint) and
the functions' environments are resolved again with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiaas_dev.cfn import PSEUDO_PARAMETERS, Resolver

FUNCTION_TYPE = "AWS::Serverless::Function"
TABLE_TYPE = "AWS::DynamoDB::Table"
SECRET_TYPE = "AWS::SecretsManager::Secret"  # noqa: S105  # a type name, not a secret
BUCKET_TYPE = "AWS::S3::Bucket"
QUEUE_TYPE = "AWS::SQS::Queue"

REGION = PSEUDO_PARAMETERS["AWS::Region"]
ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
STACK_NAME = PSEUDO_PARAMETERS["AWS::StackName"]
MAX_BUCKET_NAME = 63
MAX_QUEUE_NAME = 80  # ".fifo" included
FIFO_SUFFIX = ".fifo"

# The property that names a resource of each type (absent: CloudFormation makes a name up).
_NAME_PROPERTIES = {
    FUNCTION_TYPE: "FunctionName",
    TABLE_TYPE: "TableName",
    SECRET_TYPE: "Name",
    BUCKET_TYPE: "BucketName",
    QUEUE_TYPE: "QueueName",
}


def physical_name(logical_id: str, resource: Mapping[str, Any], resolver: Resolver) -> str:
    """The name a resource gets locally.

    Args:
        logical_id: The resource's logical ID.
        resource: The resource (``Type`` and ``Properties``).
        resolver: Resolves a name given as an intrinsic (``!Sub ${AWS::StackName}-x``).

    Returns:
        The name property if set; else the logical ID, or for a bucket
        ``<stack name>-<logical id, lower case>`` (bucket names must be lower case), for a
        queue ``<stack name>-<logical id>`` (``.fifo`` added for a FIFO queue).
    """
    kind = str(resource.get("Type", ""))
    properties = resource.get("Properties") or {}
    prop = _NAME_PROPERTIES.get(kind)
    if prop is not None and prop in properties:
        return resolver.resolve_str(properties[prop])
    if kind == BUCKET_TYPE:
        return f"{STACK_NAME}-{logical_id.lower()}"[:MAX_BUCKET_NAME]
    if kind == QUEUE_TYPE:
        fifo = resolver.resolve_str(properties.get("FifoQueue", False)).lower() == "true"
        suffix = FIFO_SUFFIX if fifo else ""
        return f"{STACK_NAME}-{logical_id}"[: MAX_QUEUE_NAME - len(suffix)] + suffix
    return logical_id


def table_values(logical_id: str, name: str) -> dict[str, str]:
    """``Ref`` (the name) and ``Arn`` of a DynamoDB table."""
    return {logical_id: name, f"{logical_id}.Arn": table_arn(name)}


def table_arn(name: str) -> str:
    """The ARN of a DynamoDB table in the local account and region."""
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def secret_values(logical_id: str, arn: str) -> dict[str, str]:
    """``Ref`` and ``Id`` of a secret: both its ARN, as in CloudFormation."""
    return {logical_id: arn, f"{logical_id}.Id": arn}


def bucket_values(logical_id: str, name: str) -> dict[str, str]:
    """``Ref`` (the name), ``Arn`` and the domain names of an S3 bucket."""
    return {
        logical_id: name,
        f"{logical_id}.Arn": f"arn:aws:s3:::{name}",
        f"{logical_id}.DomainName": f"{name}.s3.amazonaws.com",
        f"{logical_id}.RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
    }


def queue_values(logical_id: str, name: str, url: str | None = None) -> dict[str, str]:
    """``Ref`` (the URL), ``Arn``, ``QueueName`` and ``QueueUrl`` of an SQS queue.

    Args:
        logical_id: The queue's logical ID.
        name: Its name.
        url: Its URL as moto made it; the URL SQS would give it if not known yet.
    """
    url = url or f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
    return {
        logical_id: url,
        f"{logical_id}.Arn": queue_arn(name),
        f"{logical_id}.QueueName": name,
        f"{logical_id}.QueueUrl": url,
    }


def queue_arn(name: str) -> str:
    """The ARN of an SQS queue in the local account and region."""
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}"


def local_values(resources: Mapping[str, Any], resolver: Resolver) -> dict[str, str]:
    """``Ref`` and ``Fn::GetAtt`` values of every resource before anything is created.

    Args:
        resources: The template's ``Resources``.
        resolver: Resolves name properties (parameters and pseudo parameters).

    Returns:
        ``{"Table": "name", "Table.Arn": "arn:...", "Secret": "arn:...:secret:name",
        "Queue": "https://sqs...", ...}``;
        resources of other types are known by their logical ID.
    """
    values: dict[str, str] = {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type")
        name = physical_name(logical_id, resource, resolver)
        if kind == TABLE_TYPE:
            values.update(table_values(logical_id, name))
        elif kind == SECRET_TYPE:
            arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}"
            values.update(secret_values(logical_id, arn))
        elif kind == BUCKET_TYPE:
            values.update(bucket_values(logical_id, name))
        elif kind == QUEUE_TYPE:
            values.update(queue_values(logical_id, name))
        elif kind == FUNCTION_TYPE:
            values[logical_id] = name
            values[f"{logical_id}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        else:
            values[logical_id] = logical_id
    return values
