"""Data capture on moto: a version's owner turns it on, a sample of their own requests and
answers lands in S3 as JSONL (batched, encrypted, tagged for the 30-day expiry), other
tenants' requests and other tenants' reads never touch it, and a failed write never fails
a prediction."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.errors import InvalidInput, NotFound
from aiaas.repositories.captures import S3Captures, capture_prefix
from aiaas.services import Services
from aiaas.serving.capture import CaptureBuffer
from aiaas.settings import Settings
from tests.aws import AwsResources
from tests.functional.test_explanations import ALICE, register_lr

BOB = Principal("t-bob", "u-bob", "key", "k-bob", ALL_SCOPES)


def two_tenants(aws: AwsResources, models_dir: Path, tmp_path: Path, **settings: Any) -> Services:
    """Services for ALICE and BOB (their keys stored), records buffered for 600 s."""
    aws.put_key(ALICE.key_id, ALICE.tenant, ALICE.principal_id)
    aws.put_key(BOB.key_id, BOB.tenant, BOB.principal_id)
    return Services(
        Settings(
            models_dir=models_dir,
            weights_cache_dir=tmp_path / "weights",
            catalog_cache_seconds=0,
            capture_max_age_s=600,
            **settings,
        )
    )


@pytest.fixture
def services(aws: AwsResources, models_dir: Path, tmp_path: Path) -> Services:
    return two_tenants(aws, models_dir, tmp_path, capture_max_records=3)


def objects(aws: AwsResources, prefix: str) -> list[dict[str, Any]]:
    listed = aws.client("s3").list_objects_v2(Bucket=aws.weights_bucket, Prefix=prefix)
    return list(listed.get("Contents", []))


def test_the_owners_requests_are_captured_in_batches(aws: AwsResources, services: Services) -> None:
    _, x = register_lr(aws, services, "wine-cap", 4)
    updated = services.catalog.set_capture(ALICE, "wine-cap", 1, 100)
    assert updated.public()["capture"] == {"sample_percent": 100}
    rows = [x[i].tolist() for i in range(5)]
    for row in rows:
        services.predictions.predict(ALICE, "wine-cap", [row])
    prefix = capture_prefix(ALICE.tenant, "wine-cap", 1)
    (first,) = objects(aws, prefix)  # 3 records written, 2 still buffered
    assert services.capture.flush() == 2
    files = objects(aws, prefix)
    assert len(files) == 2
    s3 = aws.client("s3")
    lines: list[dict[str, Any]] = []
    for item in sorted(files, key=lambda o: o["Key"]):
        head = s3.head_object(Bucket=aws.weights_bucket, Key=item["Key"])
        assert head["ServerSideEncryption"] == "AES256"
        tags = s3.get_object_tagging(Bucket=aws.weights_bucket, Key=item["Key"])["TagSet"]
        assert {"Key": "aiaas-capture", "Value": "1"} in tags
        body = s3.get_object(Bucket=aws.weights_bucket, Key=item["Key"])["Body"].read()
        lines += [json.loads(line) for line in body.splitlines()]
    assert sorted(r["inputs"][0] for r in lines) == sorted(rows)
    assert all(r["model"] == "wine-cap" and r["version"] == "1" for r in lines)
    assert all(r["outputs"][0]["label"] in {"a", "b", "c"} for r in lines)
    assert all(set(r) == {"time", "model", "version", "inputs", "outputs"} for r in lines)
    listed = services.catalog.captures(ALICE, "wine-cap", 1, limit=10)
    assert len(listed) == 2 and all(f["key"].endswith(".jsonl") for f in listed)
    assert first["Key"].endswith(listed[-1]["key"])  # newest first


def test_off_by_default_and_off_again(aws: AwsResources, services: Services) -> None:
    _, x = register_lr(aws, services, "wine-off", 4)
    services.predictions.predict(ALICE, "wine-off", [x[0].tolist()])
    services.catalog.set_capture(ALICE, "wine-off", 1, 100)
    services.catalog.set_capture(ALICE, "wine-off", 1, 0)
    services.predictions.predict(ALICE, "wine-off", [x[0].tolist()])
    assert services.capture.flush() == 0
    assert objects(aws, capture_prefix(ALICE.tenant, "wine-off", 1)) == []


def test_another_tenant_can_neither_turn_it_on_nor_read_it(
    aws: AwsResources, services: Services
) -> None:
    register_lr(aws, services, "wine-private", 4)
    with pytest.raises(NotFound):
        services.catalog.set_capture(BOB, "wine-private", 1, 100)
    with pytest.raises(NotFound):
        services.catalog.captures(BOB, "wine-private", 1, limit=10)
    with pytest.raises(InvalidInput, match="0 to 100"):
        services.catalog.set_capture(ALICE, "wine-private", 1, 101)


def test_sampling_keeps_about_the_share_asked() -> None:
    written: list[bytes] = []

    class Store:
        def write(self, tenant: str, model: str, version: str, started: float, body: bytes) -> str:
            written.append(body)
            return "k"

    buffer = CaptureBuffer(Store(), max_records=10_000, rng=random.Random(7))
    kept = sum(buffer.offer(10, ("t", "m", "1"), [i], [{"value": i}]) for i in range(2000))
    assert 160 <= kept <= 240
    assert buffer.flush() == kept and len(written[0].splitlines()) == kept


def test_a_failed_write_is_logged_and_the_prediction_still_answers(
    aws: AwsResources, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    _, x = register_lr(aws, services, "wine-broken", 4)
    services.catalog.set_capture(ALICE, "wine-broken", 1, 100)
    services.capture.store = S3Captures(aws.client("s3"), "no-such-bucket")
    services.capture.max_records = 1
    answer = services.predictions.predict(ALICE, "wine-broken", [x[0].tolist()])
    assert answer.outputs[0]["label"] in {"a", "b", "c"}
    assert "captured requests dropped" in caplog.text
    assert str(x[0][0]) not in caplog.text  # the record itself is never logged


def test_the_download_link_reads_the_file(aws: AwsResources, services: Services) -> None:
    _, x = register_lr(aws, services, "wine-link", 4)
    services.catalog.set_capture(ALICE, "wine-link", 1, 100)
    services.predictions.predict(ALICE, "wine-link", [x[1].tolist()])
    services.capture.flush()
    (listed,) = services.catalog.captures(ALICE, "wine-link", 1, limit=10)
    got = httpx.get(listed["url"], timeout=10)
    assert got.status_code == 200
    assert json.loads(got.content.splitlines()[0])["inputs"] == [x[1].tolist()]


def test_oip_requests_and_batch_rows_are_captured_too(
    aws: AwsResources, services: Services
) -> None:
    import numpy as np  # noqa: PLC0415

    from aiaas.protocols import InferRequest  # noqa: PLC0415

    _, x = register_lr(aws, services, "wine-all", 4)
    services.catalog.set_capture(ALICE, "wine-all", 1, 100)
    tensors = {"X": np.asarray(x[:2], dtype=np.float32)}

    def decode(served: Any) -> InferRequest:
        return InferRequest(inputs=tensors)

    services.predictions.infer(ALICE, "wine-all", None, decode)
    rows = services.batch_predictions.predict_rows(ALICE, "wine-all", None, [x[3].tolist(), "bad"])
    assert isinstance(rows[1], str)  # the bad row is its error, and is not captured
    services.capture.flush()
    records = []
    s3 = aws.client("s3")
    for item in objects(aws, capture_prefix(ALICE.tenant, "wine-all", 1)):
        body = s3.get_object(Bucket=aws.weights_bucket, Key=item["Key"])["Body"].read()
        records += [json.loads(line) for line in body.splitlines()]
    oip = next(r for r in records if isinstance(r["inputs"][0], dict))
    assert np.allclose(oip["inputs"][0]["X"], x[:2], atol=1e-4)
    assert set(oip["outputs"][0]) == {"label", "probabilities"}
    batch = [r for r in records if isinstance(r["inputs"][0], list)]
    assert [r["inputs"] for r in batch] == [[x[3].tolist()]]
