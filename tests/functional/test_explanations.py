"""Explanations through the prediction service on moto: exact Shapley values equal shap's,
Kernel SHAP correlates with them, additivity holds, occlusion grids and token contributions
come back in shape, and every bad input is a 400 that names it."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shap
from PIL import Image
from skl2onnx import to_onnx
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression

from aiaas.auth.principal import Principal
from aiaas.auth.scopes import ALL_SCOPES
from aiaas.batch.inputs import Row
from aiaas.batch.records import BatchJob
from aiaas.batch.scoring import ModelScorer
from aiaas.errors import InvalidInput
from aiaas.registration.register import registrar_from
from aiaas.repositories.models import DynamoCatalog
from aiaas.repositories.weights import S3Weights
from aiaas.services import Services
from aiaas.settings import Settings
from aiaas_runtime.explain import ExplainParams
from tests.aws import AwsResources
from tests.conftest import load_testdata

ALICE = Principal("t-alice", "u-alice", "key", "k-alice", ALL_SCOPES)


@pytest.fixture
def services(aws: AwsResources, models_dir: Path, tmp_path: Path) -> Services:
    aws.put_key(ALICE.key_id, ALICE.tenant, ALICE.principal_id)
    return Services(Settings(models_dir=models_dir, weights_cache_dir=tmp_path / "weights"))


def register_lr(aws: AwsResources, services: Services, name: str, columns: int) -> Any:
    """A scikit-learn logistic regression on wine's first ``columns`` features, registered."""
    x, y = load_wine(return_X_y=True)
    x = x[:, :columns]
    model = LogisticRegression(max_iter=5000).fit(x, y)
    onnx = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": False}})
    services.catalog.create(
        ALICE, name=name, task="tabular-classification", description="", visibility="private",
        runtime="cpu", labels=["a", "b", "c"],
    )  # fmt: skip
    version, _ = services.catalog.new_version(ALICE, name)
    s3 = aws.client("s3")
    s3.put_object(Bucket=aws.weights_bucket, Key=version.upload_key, Body=onnx.SerializeToString())
    store = DynamoCatalog(aws.client("dynamodb"), aws.models_table)
    registrar = registrar_from(services.settings, store, S3Weights(s3, aws.weights_bucket))
    assert registrar.register(version.upload_key) == "READY"
    return model, x


def shap_exact(model: Any, x: np.ndarray, background: np.ndarray, target: int) -> Any:
    explainer = shap.explainers.Exact(
        lambda z: model.predict_proba(z)[:, target], shap.maskers.Independent(background, 1000)
    )
    return explainer(x[None, :])


def test_iris_exact_values_add_up_with_its_stored_background(services: Services) -> None:
    row = [6.1, 2.8, 4.7, 1.2]
    result = services.predictions.explain(ALICE, "iris-rf", [row], ExplainParams())
    (explained,) = result.outputs
    assert explained["method"] == "exact_shapley"
    assert (
        explained["target"]
        == services.predictions.predict(ALICE, "iris-rf", [row]).outputs[0]["label"]
    )
    total = explained["base_value"] + sum(a["attribution"] for a in explained["attributions"])
    assert total == pytest.approx(explained["prediction"], rel=1e-4)
    magnitudes = [abs(a["attribution"]) for a in explained["attributions"]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert {a["feature"] for a in explained["attributions"]} == {
        "sepal_length", "sepal_width", "petal_length", "petal_width",
    }  # fmt: skip
    assert result.evaluations == 16 * 50 + 50 + 1
    # and a class other than the predicted one can be explained
    other = services.predictions.explain(ALICE, "iris-rf", [row], ExplainParams(target="setosa"))
    assert other.outputs[0]["target"] == "setosa"


def test_exact_values_equal_shaps_and_kernel_shap_correlates(
    aws: AwsResources, services: Services
) -> None:
    model, x = register_lr(aws, services, "wine-6", 6)
    background = x[::6][:30]
    params = ExplainParams(background=background.tolist(), target="b")
    (ours,) = services.predictions.explain(ALICE, "wine-6", [x[60].tolist()], params).outputs
    assert ours["method"] == "exact_shapley"
    reference = shap_exact(model, x[60], background, 1)
    by_name = {a["feature"]: a["attribution"] for a in ours["attributions"]}
    got = np.array([by_name[f"x{i}"] for i in range(6)])
    assert np.allclose(got, reference.values[0], atol=1e-4)
    assert ours["base_value"] == pytest.approx(float(reference.base_values[0]), abs=1e-4)
    # Kernel SHAP on all 13 features at the default budget
    full, xf = register_lr(aws, services, "wine-13", 13)
    background = xf[::6][:30]
    params = ExplainParams(background=background.tolist())
    (kernel,) = services.predictions.explain(ALICE, "wine-13", [xf[5].tolist()], params).outputs
    assert kernel["method"] == "kernel_shap"
    assert all("std_error" in a for a in kernel["attributions"])
    total = kernel["base_value"] + sum(a["attribution"] for a in kernel["attributions"])
    assert total == pytest.approx(kernel["prediction"], rel=1e-4)
    target = ["a", "b", "c"].index(kernel["target"])
    reference = shap_exact(full, xf[5], background, target)
    by_name = {a["feature"]: a["attribution"] for a in kernel["attributions"]}
    estimate = np.array([by_name[f"x{i}"] for i in range(13)])
    assert np.corrcoef(estimate, reference.values[0])[0, 1] >= 0.95


def test_a_digits_saliency_grid_and_an_embeddings_token_contributions(
    services: Services,
) -> None:
    image = load_testdata("digits_test")["X"][0]
    (grid,) = services.predictions.explain(ALICE, "digits-cnn", [image], ExplainParams()).outputs
    assert grid["method"] == "occlusion" and len(grid["grid"]) == 8
    assert all(len(row) == 8 for row in grid["grid"]) and grid["cell_size"] == [1, 1]
    assert max(max(row) for row in grid["grid"]) > 0  # some ink matters
    assert "heatmap_png" not in grid
    png = ExplainParams(format="png")
    (drawn,) = services.predictions.explain(ALICE, "digits-cnn", [image], png).outputs
    picture = Image.open(io.BytesIO(base64.b64decode(drawn["heatmap_png"])))
    assert picture.format == "PNG" and picture.size == (128, 128)
    params = ExplainParams(compare_to="pizza")
    text = "I really love eating pizza"
    (tokens,) = services.predictions.explain(ALICE, "all-minilm-l6-v2", [text], params).outputs
    assert [t["text"] for t in tokens["tokens"]] == ["I", "really", "love", "eating", "pizza"]
    assert all(text[t["start"] : t["end"]] == t["text"] for t in tokens["tokens"])
    best = max(tokens["tokens"], key=lambda t: t["attribution"])
    assert best["text"] == "pizza"


@pytest.mark.parametrize(
    ("text", "word", "label"),
    [
        ("The food was terrible.", "terrible", "negative"),
        ("I love this phone.", "love", "positive"),
        ("What an awful film.", "awful", "negative"),
        ("The staff were wonderful.", "wonderful", "positive"),
    ],
)
def test_sentiment_token_attributions_rank_the_sentiment_word_first(
    services: Services, text: str, word: str, label: str
) -> None:
    (explained,) = services.predictions.explain(ALICE, "sentiment", [text], ExplainParams()).outputs
    assert explained["label"] == label == explained["target"]
    assert explained["method"] == "occlusion" and explained["score"] == "log_odds"
    tokens = explained["tokens"]
    assert all(text[t["start"] : t["end"]] == t["text"] for t in tokens)
    assert max(tokens, key=lambda t: t["attribution"])["text"] == word
    assert explained["evaluations"] == len(tokens) + 1
    # the other class's view: the same word argues against it
    other = "positive" if label == "negative" else "negative"
    (against,) = services.predictions.explain(
        ALICE, "sentiment", [text], ExplainParams(target=other)
    ).outputs
    assert min(against["tokens"], key=lambda t: t["attribution"])["text"] == word


@pytest.mark.parametrize(
    ("name", "inputs", "params", "words"),
    [
        ("iris-rf", [[6.1, 2.8, 4.7, 1.2]], ExplainParams(method="occlusion"), "does not fit"),
        ("iris-rf", [[6.1, 2.8, 4.7, 1.2]], ExplainParams(max_evaluations=300_000),
         "max_evaluations must be between"),
        ("iris-rf", [[6.1, 2.8, 4.7, 1.2]], ExplainParams(target="rose"), "not a class"),
        ("iris-rf", [[6.1, 2.8, 4.7, 1.2]], ExplainParams(background=[[1.0, 2.0]]),
         "background[0]"),
        ("iris-rf", [[6.1, 2.8, 4.7, 1.2]], ExplainParams(max_evaluations=100),
         "too small"),
        ("all-minilm-l6-v2", ["hello"], ExplainParams(), "compare_to"),
        ("sentiment", [[101, 102]], ExplainParams(), "takes texts"),
        ("sentiment", ["a b c d"], ExplainParams(max_evaluations=3), "max_evaluations is 3"),
        ("sentiment", ["fine"], ExplainParams(target="angry"), "not a class"),
        ("digits-cnn", [[[0] * 8] * 8], ExplainParams(grid=8, max_evaluations=10), "8x8 grid"),
    ],
)  # fmt: skip
def test_bad_explain_requests_are_400s_naming_the_problem(
    services: Services, name: str, inputs: list[Any], params: ExplainParams, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        services.predictions.explain(ALICE, name, inputs, params)
    assert words in caught.value.message


def test_a_registered_model_without_a_background_says_what_to_send(
    aws: AwsResources, services: Services
) -> None:
    register_lr(aws, services, "wine-bare", 4)
    with pytest.raises(InvalidInput, match=r"send parameters\.background"):
        services.predictions.explain(ALICE, "wine-bare", [[13.0, 2.0, 2.4, 19.0]], ExplainParams())


def test_a_batch_job_with_explain_carries_each_rows_explanation(services: Services) -> None:
    job = BatchJob(
        id="batch_" + "0" * 24, tenant=ALICE.tenant, model="iris-rf", version=None,
        input_format="jsonl", status="RUNNING", created_at=0, input_key="in",
        output_key="out", explain=True,
    )  # fmt: skip
    rows = [
        Row(1, "a", [6.1, 2.8, 4.7, 1.2]),
        Row(2, "b", "not a row"),
        Row(3, "c", [5.0, 3.4, 1.5, 0.2]),
    ]
    lines, succeeded, failed = ModelScorer(services.batch_predictions).score(job, rows)
    assert (succeeded, failed) == (2, 1)
    first, bad, third = (json.loads(line) for line in lines)
    for row in (first, third):
        why = row["output"]["explanation"]
        assert why["method"] == "exact_shapley" and why["target"] == row["output"]["label"]
        total = why["base_value"] + sum(a["attribution"] for a in why["attributions"])
        assert total == pytest.approx(why["prediction"], rel=1e-4)
    assert "error" in bad
    # and a model whose task cannot be explained in batch is refused when the job is made
    services.catalog.seed_builtins(services.layer.manifests().values())
    with pytest.raises(InvalidInput, match="batch explanations are for"):
        services.jobs.create(ALICE, "all-minilm-l6-v2", None, "jsonl", explain=True)


def test_global_explanations_rank_iris_petals_first(services: Services) -> None:
    result = services.predictions.global_explanation(ALICE, "iris-rf", 1)
    (answer,) = result.outputs
    features = [f["feature"] for f in answer["shapley"]["features"]]
    assert set(features[:2]) == {"petal_length", "petal_width"}
    assert answer["shapley"]["rows"] == 20 and "permutation_importance" not in answer
    with pytest.raises(InvalidInput, match="global explanations are for tabular"):
        services.predictions.global_explanation(ALICE, "digits-cnn", 1)


def test_an_uploaded_background_serves_the_versions_explanations(
    aws: AwsResources, services: Services
) -> None:
    _, x = register_lr(aws, services, "wine-bg", 4)
    with pytest.raises(InvalidInput, match="1 to 1000"):
        services.catalog.put_background(ALICE, "wine-bg", 1, [])
    version = services.catalog.put_background(ALICE, "wine-bg", 1, x[::10].tolist())
    assert version.public()["background"] == {"rows": len(x[::10])}
    fresh = Services(services.settings)  # a new function instance: the loader reads it
    (one,) = fresh.predictions.explain(ALICE, "wine-bg", [x[3].tolist()], ExplainParams()).outputs
    assert one["method"] == "exact_shapley"
    total = one["base_value"] + sum(a["attribution"] for a in one["attributions"])
    assert total == pytest.approx(one["prediction"], rel=1e-4)
