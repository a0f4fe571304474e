"""Deleting an account (`AccountEraser` as AuthFunction wires it) on moto: every table and
bucket that held the tenant's data is empty of it afterwards, another tenant keeps all of its
own, and a retry after a failure halfway finishes the job."""

from __future__ import annotations

import os
from typing import Any

import pytest

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES, Scope
from aiaas.batch.records import BatchJob, chunk_key, result_key
from aiaas.errors import Forbidden, Unauthorized, Unavailable
from aiaas.handlers.authorizer import authorizer_from
from aiaas.services import Services, auth_services
from aiaas.settings import Settings
from tests.aws import AwsResources

PASSWORD = "correct horse battery staple"


@pytest.fixture
def services(aws: AwsResources) -> Services:
    return auth_services(Settings())


def tenant_data(services: Services, aws: AwsResources, email: str) -> Principal:
    """A user with two keys, 30 model versions with weights in several object versions,
    an upload, a running batch job with files and a recorded chunk, and usage."""
    user = services.accounts.signup(email, PASSWORD)
    caller = Principal(user.tenant, user.user_id, "user", "", ALL_SCOPES)
    for name in ("k1", "k2"):
        key, _ = services.keys.create(caller, name=name, scopes=frozenset({Scope.PREDICT}))
        as_key = Principal(user.tenant, user.user_id, "key", key.key_id, frozenset({Scope.PREDICT}))
        services.usage.consume(as_key, "iris-rf")
    services.catalog.create(
        caller, name="mine", task="tabular-classification", description="", visibility="private",
        runtime="cpu",
    )  # fmt: skip
    for _ in range(30):  # more than one BatchWriteItem call
        services.catalog.new_version(caller, "mine")
    s3 = aws.client("s3")
    for body in (b"v1", b"v2"):  # an overwritten artifact: two stored object versions
        s3.put_object(
            Bucket=aws.weights_bucket, Key=f"{user.tenant}/mine/1/model.fp32.onnx", Body=body
        )
    s3.put_object(
        Bucket=aws.weights_bucket, Key=f"uploads/{user.tenant}/mine/2/f/model.onnx", Body=b"u"
    )
    job = BatchJob(
        id=f"batch_{user.user_id[-8:]}", tenant=user.tenant, model="iris-rf", version=None,
        input_format="jsonl", status="RUNNING", created_at=1,
        input_key=f"uploads/{user.user_id}.jsonl",
        output_key=f"outputs/{user.user_id}.jsonl", total_chunks=2,
    )  # fmt: skip
    services.job_store.create(job)
    services.job_store.record_chunk(job.id, 0, 1, 0)
    for key in (job.input_key, chunk_key(job.id, 0), result_key(job.id, 0), job.output_key):
        s3.put_object(Bucket=aws.batch_bucket, Key=key, Body=b"{}\n")
    return caller


def everything_of(aws: AwsResources, tenant: str, user_id: str) -> list[Any]:
    """Every item and object that names the tenant or its user, in any table or bucket."""
    db, s3, found = aws.client("dynamodb"), aws.client("s3"), []
    for table in (aws.accounts_table, aws.usage_table, aws.models_table, aws.jobs_table):
        items = db.scan(TableName=table)["Items"]
        found += [
            i for i in items
            if (tenant in str(i) or user_id in str(i)) and i["sk"] != {"S": "DELETED"}
        ]  # fmt: skip
    for bucket in (aws.weights_bucket, aws.batch_bucket):
        listed = s3.list_object_versions(Bucket=bucket)
        found += [
            v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])
            if tenant in v["Key"] or user_id[-8:] in v["Key"] or user_id in v["Key"]
        ]  # fmt: skip
    return found


def test_deleting_an_account_removes_all_of_its_data_and_nothing_of_another(
    services: Services, aws: AwsResources
) -> None:
    leaving = tenant_data(services, aws, "leaving@example.com")
    staying = tenant_data(services, aws, "staying@example.com")
    before = everything_of(aws, staying.tenant, staying.principal_id)

    receipt = services.eraser.delete(leaving, "Leaving@Example.com", PASSWORD)

    assert receipt.tenant == leaving.tenant and receipt.email == "leaving@example.com"
    assert (receipt.keys, receipt.models, receipt.versions) == (2, 1, 30)
    assert receipt.weight_objects == 2  # the artifact (both of its versions) and the upload
    assert (receipt.batch_jobs, receipt.batch_files) == (1, 4)
    assert receipt.usage_rows == 4  # two meters (per key and model) and two day counters
    assert everything_of(aws, leaving.tenant, leaving.principal_id) == []
    assert everything_of(aws, staying.tenant, staying.principal_id) == before
    tombstone = aws.client("dynamodb").get_item(
        TableName=aws.accounts_table,
        Key={"pk": {"S": f"TENANT#{leaving.tenant}"}, "sk": {"S": "DELETED"}},
    )["Item"]
    assert set(tombstone) == {"pk", "sk", "deleted_at", "ttl"}  # no personal data
    assert int(tombstone["ttl"]["N"]) - receipt.deleted_at > 86_400  # outlives every token
    with pytest.raises(Unauthorized):
        services.accounts.login("leaving@example.com", PASSWORD)
    job = f"batch_{leaving.principal_id[-8:]}"
    assert services.job_store.get(job) is None
    # a chunk still scoring when the account went cannot bring the job's counts back
    assert services.job_store.record_chunk(job, 1, 1, 0) is False


def test_it_wants_a_login_token_and_the_callers_own_password(
    services: Services, aws: AwsResources
) -> None:
    leaving = tenant_data(services, aws, "leaving@example.com")
    tenant_data(services, aws, "other@example.com")
    as_key = Principal(leaving.tenant, leaving.principal_id, "key", "k" * 16, ALL_SCOPES)
    with pytest.raises(Forbidden, match="login token"):
        services.eraser.delete(as_key, "leaving@example.com", PASSWORD)
    with pytest.raises(Unauthorized):
        services.eraser.delete(leaving, "leaving@example.com", "wrong password, long enough")
    with pytest.raises(Forbidden, match="not the caller"):
        services.eraser.delete(leaving, "other@example.com", PASSWORD)
    assert services.accounts.login("leaving@example.com", PASSWORD).access_token
    assert services.accounts.login("other@example.com", PASSWORD).access_token


def test_a_deletion_that_fails_halfway_finishes_when_retried(
    services: Services, aws: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaving = tenant_data(services, aws, "leaving@example.com")
    eraser = services.eraser

    def unavailable(tenant: str) -> tuple[int, int]:
        raise Unavailable("deleting a job failed (InternalError)")

    with monkeypatch.context() as patch:
        patch.setattr(eraser.jobs, "erase_tenant", unavailable)
        with pytest.raises(Unavailable):
            eraser.delete(leaving, "leaving@example.com", PASSWORD)
    # keys and models went first; the user is still there, so the same request works again
    assert services.keys.list(leaving) == []
    receipt = eraser.delete(leaving, "leaving@example.com", PASSWORD)
    assert (receipt.keys, receipt.models, receipt.batch_jobs) == (0, 0, 1)
    assert everything_of(aws, leaving.tenant, leaving.principal_id) == []


def test_the_authorizer_refuses_a_deleted_tenants_token_and_metering_its_cached_key(
    services: Services, aws: AwsResources
) -> None:
    leaving = tenant_data(services, aws, "leaving@example.com")
    token = services.accounts.login("leaving@example.com", PASSWORD).access_token
    key, secret = services.keys.create(leaving, name="k3", scopes=frozenset({Scope.PREDICT}))
    clock = [1000.0]
    authorizer = authorizer_from(os.environ)
    authorizer.clock = lambda: clock[0]
    bearer = {"authorization": f"Bearer {token}"}
    assert authorizer.authenticate({"x-api-key": secret}).key_id == key.key_id  # now cached
    assert authorizer.authenticate(bearer).tenant == leaving.tenant

    services.eraser.delete(leaving, "leaving@example.com", PASSWORD)

    # a deleted key still in the authorizer's cache is refused by metering, at once
    scopes = frozenset({Scope.PREDICT})
    as_key = Principal(leaving.tenant, leaving.principal_id, "key", key.key_id, scopes)
    with pytest.raises(Unauthorized, match="no longer exists"):
        services.usage.consume(as_key, "iris-rf")
    clock[0] += 31  # the revocation delay
    for headers in ({"x-api-key": secret}, bearer):
        with pytest.raises(Unauthorized):
            authorizer.authenticate(headers, "POST /v1/models/{name}/predict")
    # a deletion may be finished with the same token (the user is gone: 401 there)
    assert authorizer.authenticate(bearer, "DELETE /v1/account").tenant == leaving.tenant
    with pytest.raises(Unauthorized):
        services.eraser.delete(leaving, "leaving@example.com", PASSWORD)
    assert everything_of(aws, leaving.tenant, leaving.principal_id) == []
