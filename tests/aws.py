"""moto in server mode for the tests that touch AWS, with the template's tables and secret.

Server mode (not in-process ``mock_aws``): the authorizer's stdlib client speaks real HTTP,
and so do boto3 clients pointed at ``AWS_ENDPOINT_URL``. Each test starts from an empty
moto (``/moto-api/reset``) with the resources created from ``template.yaml``'s definitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import boto3
import pytest

from aiaas.auth.apikeys import ApiKey
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.repositories.accounts import DynamoKeys
from aiaas_dev.aws import guarded_moto_server, provision_resources
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[1]
# The API key the authorizer context of events/*.json and the handler tests names: an
# authorized request's key exists (metering refuses a key deleted since), so moto has it.
EVENT_KEY = ("abcdefghijklmnop", "tnt_0123456789abcdef", "usr_0123456789abcdef")


@dataclass(frozen=True)
class AwsResources:
    """Names the functions get through their environment."""

    endpoint: str
    accounts_table: str
    usage_table: str
    jwt_secret_arn: str
    models_table: str
    weights_bucket: str
    jobs_table: str = ""
    batch_bucket: str = ""
    batch_queue_url: str = ""
    batch_dlq_url: str = ""
    training_queue_url: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")

    def put_key(
        self, key_id: str, tenant: str = EVENT_KEY[1], principal: str = EVENT_KEY[2]
    ) -> None:
        """Store an API key record (a digest no secret matches): for tests that invoke a
        function with an authorizer context naming it, as if the authorizer had let it in."""
        key = ApiKey(key_id, tenant, principal, "test", ALL_SCOPES, "0" * 64, created_at=0)
        DynamoKeys(self.client("dynamodb"), self.accounts_table).put(key)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = guarded_moto_server("127.0.0.1")  # presigned POST policies checked, as S3 does
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def create_resources(endpoint: str) -> AwsResources:
    """The template's tables, bucket and secret, made by the local stack's own provisioners."""
    session = boto3.Session(region_name="us-east-1")
    created = provision_resources(load_template(ROOT / "template.yaml"), session)
    names = {done.logical_id: done.name for done in created}
    refs = {done.logical_id: done.values[done.logical_id] for done in created}
    return AwsResources(
        endpoint,
        accounts_table=names["AccountsTable"],
        usage_table=names["UsageTable"],
        jwt_secret_arn=names["JwtSecret"],
        models_table=names["ModelsTable"],
        weights_bucket=names["WeightsBucket"],
        jobs_table=names["JobsTable"],
        batch_bucket=names["BatchBucket"],
        batch_queue_url=refs.get("BatchQueue", ""),
        batch_dlq_url=refs.get("BatchDeadLetterQueue", ""),
        training_queue_url=refs.get("TrainingQueue", ""),
    )


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AwsResources:
    """An empty moto with the template's tables and secret; functions' env pointed at them.

    Functions read their settings when they are built (``Settings()``), so a handler or
    services object made after this fixture talks to this test's moto; nothing is cached
    across tests.
    """
    urlopen(Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=5).read()
    for key, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    res = create_resources(moto_endpoint)
    for key, value in {
        "AIAAS_ACCOUNTS_TABLE": res.accounts_table,
        "AIAAS_USAGE_TABLE": res.usage_table,
        "AIAAS_JWT_SECRET_ARN": res.jwt_secret_arn,
        "AIAAS_MODELS_TABLE": res.models_table,
        "AIAAS_WEIGHTS_BUCKET": res.weights_bucket,
        "AIAAS_JOBS_TABLE": res.jobs_table,
        "AIAAS_BATCH_BUCKET": res.batch_bucket,
        "AIAAS_BATCH_QUEUE_URL": res.batch_queue_url,
        "AIAAS_TRAINING_QUEUE_URL": res.training_queue_url,
    }.items():
        monkeypatch.setenv(key, value)
    res.put_key(EVENT_KEY[0])
    return res
