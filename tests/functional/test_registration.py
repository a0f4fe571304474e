"""Registration on moto: an uploaded file in S3 ends READY or FAILED in the catalog table."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.domain.catalog import CatalogService, upload_key
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.registration.register import Registrar, RegistrationConfig
from aiaas.registration.runs import runtime_max_opset
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.weights import S3Weights
from tests.aws import AwsResources
from tests.unit import catalog_models as models

TENANT = "tnt_aaaaaaaaaaaaaaaa"


@pytest.fixture
def catalog(aws: AwsResources) -> DynamoCatalog:
    return DynamoCatalog(aws.client("dynamodb"), aws.models_table)


@pytest.fixture
def registrar(aws: AwsResources, catalog: DynamoCatalog) -> Registrar:
    weights = S3Weights(aws.client("s3"), aws.weights_bucket)
    return Registrar(catalog, weights, RegistrationConfig())


def uploaded(aws: AwsResources, catalog: DynamoCatalog, name: str, data: bytes) -> str:
    """A model with version 1 waiting for its file, and the file in S3: the upload's key."""
    catalog.create_model(
        CatalogModel(
            tenant=TENANT,
            name=name,
            task="tabular-classification",
            description="",
            visibility="private",
            runtime="cpu",
            created_at=0,
        )
    )
    key = upload_key(TENANT, name, 1)
    catalog.put_version(ModelVersion(TENANT, name, 1, "PENDING_UPLOAD", 0, upload_key=key))
    aws.client("s3").put_object(Bucket=aws.weights_bucket, Key=key, Body=data)
    return key


def test_a_classifier_exported_with_skl2onnx_defaults_becomes_ready(
    aws: AwsResources, catalog: DynamoCatalog, registrar: Registrar
) -> None:
    # Given a classifier exported as a user would: no target_opset
    exported = models.logistic_regression_default_opset()
    key = uploaded(aws, catalog, "wine-lr", models.to_bytes(exported))
    # When registration runs on its upload
    outcome = registrar.register(key)
    # Then the version is READY at the opset skl2onnx emitted, and the model's default
    version = catalog.get_version(TENANT, "wine-lr", 1)
    assert version is not None
    assert (outcome, version.status, version.reason) == ("READY", "READY", "")
    assert version.quality["opset"] == models.default_opset(exported)
    assert version.quality["producer"].startswith("skl2onnx")
    assert version.artifacts["fp32"].endswith("/wine-lr/1/model.fp32.onnx")
    model = catalog.get_model(TENANT, "wine-lr")
    assert model is not None and model.default_version == 1


def test_a_model_newer_than_this_onnxruntime_fails_naming_both_versions(
    aws: AwsResources, catalog: DynamoCatalog, registrar: Registrar
) -> None:
    newest = runtime_max_opset()
    key = uploaded(aws, catalog, "future-mlp", models.to_bytes(models.mlp(opset=newest + 1)))

    outcome = registrar.register(key)

    version = catalog.get_version(TENANT, "future-mlp", 1)
    assert version is not None
    assert (outcome, version.status) == ("FAILED", "FAILED")
    assert version.reason == (
        f"default-domain (ai.onnx) opset {newest + 1} is newer than this onnxruntime "
        f"({ort.__version__}) supports (7..{newest})"
    )
    assert version.artifacts == {}


def test_a_version_takes_one_upload_and_counts_the_later_ones(
    aws: AwsResources, catalog: DynamoCatalog, registrar: Registrar
) -> None:
    # Given a version's single-use form (its own key)
    service = CatalogService(catalog, S3Weights(aws.client("s3"), aws.weights_bucket))
    owner = Principal(TENANT, "u", "key", "k", ALL_SCOPES)
    service.create(owner, name="once-lr", task="tabular-classification", description="",
                   visibility="private", runtime="cpu")  # fmt: skip
    version, form = service.new_version(owner, "once-lr")
    key = form["fields"]["key"]
    assert key == version.upload_key and key.count("/") == 5  # uploads/t/m/1/<form>/model.onnx
    s3 = aws.client("s3")
    # When two uploads land on it, one after the other
    first = s3.put_object(Bucket=aws.weights_bucket, Key=key, Body=models.to_bytes(models.mlp()))
    assert registrar.register(key, first["ETag"].strip('"')) == "READY"
    second = s3.put_object(Bucket=aws.weights_bucket, Key=key,
                           Body=models.to_bytes(models.mlp(seed=1)))  # fmt: skip
    assert registrar.register(key, second["ETag"].strip('"')) == "SKIPPED"
    assert registrar.register(key, first["ETag"].strip('"')) == "SKIPPED"  # a replay
    # Then the first is registered and the later one is reported, not silently dropped
    stored = catalog.get_version(TENANT, "once-lr", 1)
    assert stored is not None and stored.status == "READY"
    assert stored.upload_etag == first["ETag"].strip('"') and stored.ignored_uploads == 1
    assert stored.public()["ignored_uploads"] == 1
    # and an upload to a key no form gave out registers nothing
    stray = upload_key(TENANT, "once-lr", 1)
    s3.put_object(Bucket=aws.weights_bucket, Key=stray, Body=models.to_bytes(models.mlp()))
    assert registrar.register(stray, "x") == "SKIPPED"
