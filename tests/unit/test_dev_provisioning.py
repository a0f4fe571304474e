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

from aiaas_dev.aws import provision_resources, provisioned_values, provisioning_order
from aiaas_dev.cfn import TemplateError
from aiaas_dev.provisioners import generate_secret_string, redrive_policy
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
        "Stream": {"Type": "AWS::Kinesis::Stream"},
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
    assert "not created locally: Stream (AWS::Kinesis::Stream)" in caplog.text


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


QUEUES_TEMPLATE = """
Parameters:
  MaxReceives: { Type: Number, Default: 4 }
  WithGpu: { Type: String, Default: "false" }
Conditions:
  GpuEnabled: !Equals [!Ref WithGpu, "true"]
Resources:
  Work:  # declared before its dead-letter queue
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1800
      MessageRetentionPeriod: 345600
      DelaySeconds: 0
      SqsManagedSseEnabled: true
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Dead.Arn
        maxReceiveCount: !Ref MaxReceives
  Dead:
    Type: AWS::SQS::Queue
    Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true }
  Ordered:
    Type: AWS::SQS::Queue
    Properties: { FifoQueue: true, ContentBasedDeduplication: true, Tags: [{Key: k, Value: v}] }
  Named:
    Type: AWS::SQS::Queue
    Properties: { QueueName: !Sub "${AWS::StackName}-named" }
  DeadAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties: { MetricName: X, Dimensions: [{ Name: Q, Value: !GetAtt Dead.QueueName }] }
  Role: { Type: AWS::IAM::Role }
  Topic: { Type: AWS::SNS::Topic, Condition: GpuEnabled }
  GpuModel: { Type: AWS::SageMaker::Model, Condition: GpuEnabled }
  GpuConfig: { Type: AWS::SageMaker::EndpointConfig, Condition: GpuEnabled }
  GpuEndpoint:
    Type: AWS::SageMaker::Endpoint
    Condition: GpuEnabled
    Properties: { EndpointConfigName: !GetAtt GpuConfig.EndpointConfigName }
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          QUEUE_URL: !Ref Work
          QUEUE_ARN: !GetAtt Work.Arn
          QUEUE_NAME: !GetAtt Work.QueueName
          ORDERED_URL: !GetAtt Ordered.QueueUrl
          ENDPOINT: !If [GpuEnabled, !GetAtt GpuEndpoint.EndpointName, ""]
          GPU_ONLY: !If [GpuEnabled, "yes", !Ref AWS::NoValue]
"""
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/"


def test_queues_dead_letter_first_and_not_emulated_types_quietly(
    session: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(QUEUES_TEMPLATE)
    template = load_template(path)

    with caplog.at_level(logging.WARNING, logger="aiaas_dev"):
        created = provision_resources(template, session)

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []  # SSE ignored; alarm, role, false-condition resources left out
    assert [done.logical_id for done in created] == ["Dead", "Work", "Ordered", "Named"]
    sqs = session.client("sqs")
    work = sqs.get_queue_attributes(QueueUrl=f"{QUEUE_URL}aiaas-local-Work", AttributeNames=["All"])
    assert json.loads(work["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:aiaas-local-Dead",
        "maxReceiveCount": 4,  # !Ref MaxReceives, its Default
    }
    assert work["Attributes"]["VisibilityTimeout"] == "1800"
    assert work["Attributes"]["MessageRetentionPeriod"] == "345600"
    ordered_url = f"{QUEUE_URL}aiaas-local-Ordered.fifo"
    ordered = sqs.get_queue_attributes(QueueUrl=ordered_url, AttributeNames=["All"])
    assert ordered["Attributes"]["ContentBasedDeduplication"] == "true"
    assert sqs.list_queue_tags(QueueUrl=ordered_url)["Tags"] == {"k": "v"}
    assert created[3].name == "aiaas-local-named"
    assert "DLQ aiaas-local-Dead after 4 receives" in created[1].describe()
    assert "FIFO" in created[2].describe()


def test_queue_values_before_and_after_moto(session: Any, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(QUEUES_TEMPLATE)
    before = load_template(path)

    after = provisioned(before, session)

    expected = {
        "QUEUE_URL": f"{QUEUE_URL}aiaas-local-Work",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:aiaas-local-Work",
        "QUEUE_NAME": "aiaas-local-Work",
        "ORDERED_URL": f"{QUEUE_URL}aiaas-local-Ordered.fifo",
        "ENDPOINT": "",  # !If on a false condition: the other branch, never resolved
    }  # GPU_ONLY: !Ref AWS::NoValue leaves the variable out
    assert before.functions["Fn"].environment == expected
    assert after.functions["Fn"].environment == expected  # moto's in-process URLs match
    assert "GpuEndpoint" not in before.document["Resources"]


def test_true_condition_keeps_the_resources(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(QUEUES_TEMPLATE.replace("!GetAtt GpuEndpoint.EndpointName", "!Ref GpuEndpoint"))

    template = load_template(path, parameters={"WithGpu": "true"})

    assert {"Topic", "GpuEndpoint"} <= template.document["Resources"].keys()
    assert template.functions["Fn"].environment["ENDPOINT"] == "GpuEndpoint"  # not emulated
    assert template.functions["Fn"].environment["GPU_ONLY"] == "yes"


def test_provisioning_order_follows_references() -> None:
    resources = {
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {"X": {"Ref": "Late"}}},
        "Early": {
            "Type": "AWS::SQS::Queue",
            "Properties": {"Tag": {"Fn::Sub": "${Late.Arn}-${!Literal}"}},
            "DependsOn": "Table",
        },
        "Late": {"Type": "AWS::SQS::Queue"},
        "Table": {"Type": "AWS::DynamoDB::Table"},
    }

    assert provisioning_order(resources) == ["Fn", "Late", "Table", "Early"]
    resources["Late"]["Properties"] = {"P": {"Fn::GetAtt": ["Early", "Arn"]}}
    with pytest.raises(TemplateError, match="circular dependency: Early -> Late -> Early"):
        provisioning_order(resources)


def test_redrive_policy_forms() -> None:
    as_json = '{"deadLetterTargetArn": "arn:q", "maxReceiveCount": "5"}'

    assert json.loads(redrive_policy(as_json)) == {
        "deadLetterTargetArn": "arn:q",
        "maxReceiveCount": 5,
    }
    with pytest.raises(KeyError):
        redrive_policy({"deadLetterTargetArn": "arn:q"})


def test_missing_dead_letter_queue_is_a_template_error(session: Any, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    policy = {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:nowhere",
        "maxReceiveCount": 2,
    }
    path.write_text(
        yaml.safe_dump(
            {
                "Resources": {
                    "Q": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": policy}}
                }
            }
        )
    )

    with pytest.raises(TemplateError, match=r"Q \(AWS::SQS::Queue\)"):
        provision_resources(load_template(path), session)
