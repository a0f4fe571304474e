"""aiaas_dev.aws.provision_resources in moto (in-process), and Ref resolution around it."""

from __future__ import annotations

import json
import logging
import random
import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from aiaas_dev.aws import provision_resources, provisioned_values
from aiaas_dev.cfn import TemplateError
from aiaas_dev.provisioners import generate_secret_string
from aiaas_dev.template import Template, load_template

ROOT = Path(__file__).resolve().parents[2]
AUTH_TEMPLATE = ROOT / "tests" / "fixtures" / "auth_template.yaml"
SECRET_ARN_PREFIX = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def provisioned(template: Template, session: Any) -> Template:
    return template.with_resource_values(provisioned_values(provision_resources(template, session)))


def test_fixture_template_resources_are_created(session: Any) -> None:
    created = provision_resources(load_template(AUTH_TEMPLATE), session)

    assert [(done.logical_id, done.kind) for done in created] == [
        ("ItemsTable", "AWS::DynamoDB::Table"),
        ("ApiSecret", "AWS::SecretsManager::Secret"),
        ("FilesBucket", "AWS::S3::Bucket"),
    ]
    dynamodb = session.client("dynamodb")
    table = dynamodb.describe_table(TableName="aiaas-local-items")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-tenant"]
    ttl = dynamodb.describe_time_to_live(TableName="aiaas-local-items")
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }
    secret_arn = created[1].name
    value = json.loads(
        session.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    )
    assert value["user"] == "svc"  # SecretStringTemplate + GenerateStringKey
    assert len(value["key"]) == 48 and value["key"].isalnum()  # ExcludePunctuation
    s3 = session.client("s3")
    assert s3.get_bucket_versioning(Bucket="aiaas-local-filesbucket")["Status"] == "Enabled"
    assert "TTL expires_at" in created[0].describe()


def test_function_environment_gets_names_and_the_secrets_arn(session: Any) -> None:
    before = load_template(AUTH_TEMPLATE, parameters={"Quota": "7"})

    after = provisioned(before, session)

    arn = session.client("secretsmanager").describe_secret(SecretId="ApiSecret")["ARN"]
    assert before.functions["DataFunction"].environment == {
        "ITEMS_TABLE": "aiaas-local-items",  # TableName: !Sub ${AWS::StackName}-items
        "API_SECRET_ARN": f"{SECRET_ARN_PREFIX}ApiSecret",  # before moto: no random suffix
        "FILES_BUCKET": "aiaas-local-filesbucket",  # no BucketName: stack name + logical ID
        "QUOTA": "7",  # --param over the Default
    }
    for spec in after.functions.values():
        assert spec.environment["API_SECRET_ARN"] == arn
        assert spec.environment["ITEMS_TABLE"] == "aiaas-local-items"
    assert arn.startswith(f"{SECRET_ARN_PREFIX}ApiSecret-")
    assert after.resolver.resolve({"Fn::GetAtt": ["ItemsTable", "Arn"]}) == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/aiaas-local-items"
    )


def test_repository_template(session: Any) -> None:
    template = provisioned(load_template(ROOT / "template.yaml"), session)

    arn = session.client("secretsmanager").describe_secret(SecretId="JwtSecret")["ARN"]
    environment = template.functions["AuthFunction"].environment
    assert environment["AIAAS_ACCOUNTS_TABLE"] == "AccountsTable"
    assert environment["AIAAS_USAGE_TABLE"] == "UsageTable"
    assert environment["AIAAS_JWT_SECRET_ARN"] == arn
    assert environment["AIAAS_DAILY_QUOTA"] == "10000"
    key = session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    assert len(key) == 64 and key.isalnum()
    dynamodb = session.client("dynamodb")
    accounts = dynamodb.describe_table(TableName="AccountsTable")["Table"]
    assert [index["IndexName"] for index in accounts["GlobalSecondaryIndexes"]] == ["gsi1"]
    ttl = dynamodb.describe_time_to_live(TableName="UsageTable")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"


def test_parameter_override_reaches_the_environment() -> None:
    template = load_template(ROOT / "template.yaml", parameters={"DailyQuota": "5"})

    assert template.functions["PredictFunction"].environment["AIAAS_DAILY_QUOTA"] == "5"


EXTRA_RESOURCES = {
    "Resources": {
        "Streamed": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "TableName": "streamed",
                "AttributeDefinitions": [
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "alt", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3},
                "LocalSecondaryIndexes": [
                    {
                        "IndexName": "by-alt",
                        "KeySchema": [
                            {"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "alt", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            },
        },
        "Plain": {
            "Type": "AWS::SecretsManager::Secret",
            "Properties": {"Name": "plain", "SecretString": {"Fn::Sub": "in-${AWS::Region}"}},
        },
        "Named": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": "named-bucket",
                "NotificationConfiguration": {"QueueConfigurations": []},
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
}


def test_provisioned_table_stream_lsi_plain_secret_named_bucket(
    session: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(EXTRA_RESOURCES))

    with caplog.at_level(logging.WARNING, logger="aiaas_dev"):
        created = provision_resources(load_template(path), session)

    values = provisioned_values(created)
    table = session.client("dynamodb").describe_table(TableName="streamed")["Table"]
    assert table["ProvisionedThroughput"]["WriteCapacityUnits"] == 3
    assert [index["IndexName"] for index in table["LocalSecondaryIndexes"]] == ["by-alt"]
    assert values["Streamed.StreamArn"] == table["LatestStreamArn"]
    secrets = session.client("secretsmanager")
    assert secrets.get_secret_value(SecretId=values["Plain"])["SecretString"] == "in-us-east-1"
    assert values["Named"] == "named-bucket"
    assert values["Named.Arn"] == "arn:aws:s3:::named-bucket"
    assert "Named: NotificationConfiguration is not applied locally" in caplog.text
    assert "not created locally: Queue (AWS::SQS::Queue)" in caplog.text


def test_bad_resource_is_a_template_error(session: Any, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump({"Resources": {"T": {"Type": "AWS::DynamoDB::Table"}}}))

    with pytest.raises(TemplateError, match=r"T \(AWS::DynamoDB::Table\): 'AttributeDefinitions'"):
        provision_resources(load_template(path), session)


def test_generate_secret_string_options() -> None:
    rng = random.Random(7)  # deterministic for the test

    default = generate_secret_string({}, rng)
    assert len(default) == 32
    assert all(any(c in chars for c in default) for chars in (
        string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation
    ))  # fmt: skip
    digits = generate_secret_string(
        {"PasswordLength": 200, "ExcludeLowercase": "true", "ExcludeUppercase": True,
         "ExcludePunctuation": True, "ExcludeCharacters": "0123"},
        rng,
    )  # fmt: skip
    assert len(digits) == 200 and set(digits) <= set("456789")
    spaced = generate_secret_string({"IncludeSpace": True, "PasswordLength": 8}, rng)
    assert " " in spaced
    templated = json.loads(
        generate_secret_string({"SecretStringTemplate": '{"u": "a"}', "GenerateStringKey": "p"})
    )
    assert templated["u"] == "a" and len(templated["p"]) == 32


def test_generate_secret_string_impossible_options() -> None:
    nothing = {
        "ExcludeLowercase": True,
        "ExcludeUppercase": True,
        "ExcludeNumbers": True,
        "ExcludePunctuation": True,
    }
    with pytest.raises(ValueError, match="no characters"):
        generate_secret_string(nothing)
    with pytest.raises(ValueError, match="shorter than"):
        generate_secret_string({"PasswordLength": 2})
