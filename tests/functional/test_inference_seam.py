"""The one inference seam on moto: registered models get the built-ins' task-level answers,
warm requests read no catalog record, and the services object is the tests' own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.datasets import load_wine
from tokenizers import Tokenizer

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.errors import Conflict, InvalidInput, NotFound
from aiaas.registration.register import registrar_from
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.weights import S3Weights
from aiaas.services import Services
from aiaas.settings import Settings
from aiaas_runtime import PredictParams
from tests.aws import AwsResources
from tests.unit import catalog_models as models

ALICE = Principal("t-alice", "u-alice", "key", "k-alice", ALL_SCOPES)
BOB = Principal("t-bob", "u-bob", "key", "k-bob", ALL_SCOPES)
WINE = ["class_0", "class_1", "class_2"]


class CountingClient:
    """A DynamoDB client that counts the reads made through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("get_item", "query", "scan", "batch_get_item"):
            self.reads += 1
        return getattr(self.inner, name)


@pytest.fixture
def services(aws: AwsResources, models_dir: Path, tmp_path: Path) -> Services:
    for caller in (ALICE, BOB):  # their keys exist, as the authorizer saw them
        aws.put_key(caller.key_id, caller.tenant, caller.principal_id)
    return Services(Settings(models_dir=models_dir, weights_cache_dir=tmp_path / "weights"))


def register(
    aws: AwsResources, services: Services, name: str, files: dict[str, bytes], **declared: Any
) -> dict[str, Any]:
    """Create a model, upload its files by the presigned keys, register it; the version."""
    services.catalog.create(
        ALICE, name=name, description="", visibility="private", runtime="cpu", **declared
    )
    version, upload = services.catalog.new_version(ALICE, name)
    s3 = aws.client("s3")
    if "tokenizer.json" in files:
        key = upload["tokenizer"]["fields"]["key"]
        s3.put_object(Bucket=aws.weights_bucket, Key=key, Body=files["tokenizer.json"])
    s3.put_object(Bucket=aws.weights_bucket, Key=version.upload_key, Body=files["model.onnx"])
    store = DynamoCatalog(aws.client("dynamodb"), aws.models_table)
    weights = S3Weights(s3, aws.weights_bucket)
    assert registrar_from(services.settings, store, weights).register(version.upload_key) == (
        "READY"
    )
    return services.catalog.version(services.catalog.owned(ALICE, name), 1).public()


def test_a_registered_classifier_answers_with_its_declared_labels_scores_and_top_k(
    aws: AwsResources, services: Services
) -> None:
    # Given a scikit-learn classifier registered with its class names
    onnx = models.to_bytes(models.logistic_regression_default_opset())
    register(aws, services, "wine-lr", {"model.onnx": onnx}, task="tabular-classification",
             labels=WINE)  # fmt: skip
    rows = load_wine(return_X_y=True)[0][[0, 70, 150]].astype("float32")
    # When the native route's service runs it
    result = services.predictions.predict(ALICE, "wine-lr", rows.tolist(), PredictParams(top_k=2))
    # Then each row has a label, a score, probabilities by label and a top 2, like a built-in
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    want = session.run(None, {"X": rows})[0]
    assert [o["label"] for o in result.outputs] == [WINE[i] for i in want]
    assert [o["label"] for o in result.outputs] == ["class_0", "class_1", "class_2"]
    assert all(
        len(o["top_k"]) == 2 and set(o["probabilities"]) == set(WINE) for o in result.outputs
    )
    assert result.served.task == "tabular-classification" and result.served.variant in (
        "fp32",
        "int8",
    )
    # and rows can be objects keyed by feature name (default names x0...)
    keyed = [{f"x{i}": float(v) for i, v in enumerate(rows[0])}]
    assert services.predictions.predict(ALICE, "wine-lr", keyed).outputs[0]["label"] == "class_0"
    # and another tenant cannot find it
    with pytest.raises(NotFound):
        services.predictions.predict(BOB, "wine-lr", rows.tolist())


def test_a_registered_embedding_model_with_a_tokenizer_embeds_texts(
    aws: AwsResources, services: Services, models_dir: Path
) -> None:
    # Given a token-embedding graph uploaded with a tokenizer.json beside it
    tokenizer_json = (models_dir / "all-minilm-l6-v2" / "tokenizer.json").read_bytes()
    onnx = models.to_bytes(models.token_embedder())
    version = register(aws, services, "my-embedder", {"model.onnx": onnx,
                       "tokenizer.json": tokenizer_json}, task="embedding")  # fmt: skip
    assert "tokenizer" in version["variants"]
    texts = ["hello world", "a longer sentence about serverless inference"]
    # When it embeds texts (the native route) and the OpenAI route's service call
    native = services.predictions.predict(ALICE, "my-embedder", texts)
    openai = services.predictions.embed(ALICE, "my-embedder", texts, dimensions=8)
    # Then the vectors are the graph's on the tokenizer's ids, unit length
    tokenizer = Tokenizer.from_str(tokenizer_json.decode())
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    for text, output in zip(texts, native.outputs, strict=True):
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        (want,) = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})
        unit = want[0] / np.linalg.norm(want[0])
        got = np.asarray(output["embedding"])
        # the int8 variant passed the registration gate: equal in direction to fp32
        assert abs(np.linalg.norm(got) - 1) < 1e-5 and float(got @ unit) > 0.995
    assert native.tokens == sum(len(tokenizer.encode(t).ids) for t in texts)
    assert [len(o["embedding"]) for o in openai.outputs] == [8, 8]
    with pytest.raises(InvalidInput, match="not an embedding model"):
        services.predictions.embed(ALICE, "iris-rf", texts)


def test_an_embedding_model_without_a_tokenizer_takes_token_ids_only(
    aws: AwsResources, services: Services
) -> None:
    register(aws, services, "ids-only", {"model.onnx": models.to_bytes(models.token_embedder())},
             task="embedding")  # fmt: skip
    ids = services.predictions.predict(ALICE, "ids-only", [[101, 7592, 102]])
    assert len(ids.outputs[0]["embedding"]) == 32
    with pytest.raises(InvalidInput, match="has no tokenizer"):
        services.predictions.predict(ALICE, "ids-only", ["text"])


def test_a_warm_request_reads_no_catalog_record(aws: AwsResources, services: Services) -> None:
    onnx = models.to_bytes(models.logistic_regression_default_opset())
    register(aws, services, "warm-lr", {"model.onnx": onnx}, task="tabular-classification")
    counting = CountingClient(services.client("dynamodb").client)
    services.catalog.store.client = counting  # type: ignore[attr-defined]
    rows = load_wine(return_X_y=True)[0][:2].astype("float32").tolist()
    # Given a first (cold) request, which reads the model and its version
    services.predictions.predict(ALICE, "warm-lr", rows)
    cold = counting.reads
    assert cold > 0
    # When the same caller asks again
    for _ in range(5):
        services.predictions.predict(ALICE, "warm-lr", rows)
    # Then no DynamoDB read is made; built-ins never read the catalog at all
    assert counting.reads == cold
    services.predictions.predict(ALICE, "iris-rf", [[5.1, 3.5, 1.4, 0.2]])
    assert counting.reads == cold


def test_a_changed_record_shows_once_the_cache_expires(
    aws: AwsResources, services: Services
) -> None:
    onnx = models.to_bytes(models.logistic_regression_default_opset())
    register(aws, services, "gone-lr", {"model.onnx": onnx}, task="tabular-classification")
    rows = load_wine(return_X_y=True)[0][:1].astype("float32").tolist()
    now = [0.0]
    services.resolver.clock = lambda: now[0]
    services.predictions.predict(ALICE, "gone-lr", rows)
    services.catalog.delete(ALICE, "gone-lr")
    services.predictions.predict(ALICE, "gone-lr", rows)  # within the TTL: still served
    now[0] += services.settings.catalog_cache_seconds + 1
    with pytest.raises(NotFound):
        services.predictions.predict(ALICE, "gone-lr", rows)


def test_a_version_that_is_not_ready_is_a_conflict_naming_its_status(
    aws: AwsResources, services: Services
) -> None:
    services.catalog.create(ALICE, name="pending-lr", task="tabular-classification",
                            description="", visibility="private", runtime="cpu")  # fmt: skip
    services.catalog.new_version(ALICE, "pending-lr")
    with pytest.raises(Conflict, match="no READY version"):
        services.predictions.predict(ALICE, "pending-lr", [[0.0]])
    with pytest.raises(Conflict, match="PENDING_UPLOAD"):
        services.predictions.predict(ALICE, "pending-lr", [[0.0]], version=1)


def test_a_built_in_the_layer_does_not_carry_is_served_from_s3(
    aws: AwsResources, models_dir: Path, tmp_path: Path
) -> None:
    # Given a deployment whose models layer carries MiniLM and the digits CNN only
    from aiaas.registration.seed import not_in_layer, seed_s3_builtins  # noqa: PLC0415

    aws.put_key(BOB.key_id, BOB.tenant, BOB.principal_id)

    settings = Settings(
        models_dir=models_dir,
        layer_models="all-minilm-l6-v2,digits-cnn",
        weights_cache_dir=tmp_path / "weights",
    )
    services = Services(settings)
    assert "iris-rf" not in services.layer
    # When the deploy seeds the other built-ins into the weights bucket (`make seed`)
    store = DynamoCatalog(aws.client("dynamodb"), aws.models_table)
    weights = S3Weights(aws.client("s3"), aws.weights_bucket)
    manifests = not_in_layer(models_dir, ["all-minilm-l6-v2", "digits-cnn"])
    seeded = seed_s3_builtins(store, weights, manifests)
    assert seeded == ["face-detector", "image-classifier", "iris-rf", "ocr", "sentiment",
                      "smollm2-135m-instruct", "whisper-tiny-en"]  # fmt: skip
    assert seed_s3_builtins(store, weights, manifests) == []  # idempotent
    # Then every tenant gets iris-rf from S3, with the same answers as from the layer
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    result = services.predictions.predict(BOB, "iris-rf", rows, PredictParams(top_k=2))
    layer = (
        Services(Settings(models_dir=models_dir))
        .layer.get("iris-rf")
        .predict(rows, PredictParams(top_k=2))
    )
    assert result.outputs == layer.results
    assert [o["label"] for o in result.outputs] == ["setosa", "virginica", "versicolor"]
    assert any((tmp_path / "weights").iterdir())  # the int8 file came through the cache
    listed = {m.name for m in services.catalog.visible(ALICE)}
    assert "iris-rf" in listed
