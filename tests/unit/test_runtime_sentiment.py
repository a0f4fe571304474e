"""sentiment (MiniLM + a head trained on VADER's human-rated corpus) on the runtime: the build's
sample texts get their labels and the fp32 reference's probabilities; bad text is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aiaas_runtime import ModelRegistry, PredictParams
from aiaas_runtime.errors import InvalidInputError, TextTooLongError
from tests.conftest import load_testdata


@pytest.fixture(scope="module")
def model(models_dir: Path):  # type: ignore[no-untyped-def]
    return ModelRegistry(models_dir).get("sentiment")


def test_samples_get_their_labels_and_the_references_probabilities(model) -> None:  # type: ignore[no-untyped-def]
    samples = load_testdata("sentiment_samples")["samples"]
    result = model.predict([s["text"] for s in samples], PredictParams(top_k=2))
    for sample, output in zip(samples, result.results, strict=True):
        assert output["label"] == sample["expected"], sample["text"]
        assert set(output["probabilities"]) == {"negative", "neutral", "positive"}
        got = [output["probabilities"][k] for k in ("negative", "neutral", "positive")]
        tolerance = 0.15 if model.variant == "int8" else 1e-4  # int8 encoder vs fp32 reference
        assert np.allclose(got, sample["probabilities"], atol=tolerance)
        assert sum(got) == pytest.approx(1.0, abs=1e-5)
        assert len(output["top_k"]) == 2 and output["top_k"][0]["label"] == output["label"]


def test_the_manifest_records_every_candidate_and_the_choice(model) -> None:  # type: ignore[no-untyped-def]
    quality = model.manifest.quality
    candidates = quality["candidates"]
    assert {
        "vader-rules",
        "tfidf-bigrams-logistic-regression",
        "minilm-zero-shot-prototypes",
    } <= set(candidates)
    servable = {n: c for n, c in candidates.items() if c.get("servable")}
    assert quality["chosen"] == max(servable, key=lambda n: servable[n]["validation_accuracy"])
    assert quality["accuracy"] > candidates["vader-rules"]["accuracy"]
    assert model.variant == ("int8" if quality["int8"]["kept"] else "fp32")


def test_chinese_and_emoji_get_an_answer(model) -> None:  # type: ignore[no-untyped-def]
    outputs = model.predict(["这部电影非常好看", "🙂🙂", "ok"]).results
    assert all(o["label"] in {"negative", "neutral", "positive"} for o in outputs)


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_empty_text_is_refused(model, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=r"inputs\[1\] is empty"):
        model.predict(["fine", text])


def test_text_over_the_limit_is_refused(model) -> None:  # type: ignore[no-untyped-def]
    limit = model.manifest.preprocessing["max_chars"]
    with pytest.raises(TextTooLongError, match=f"the limit is {limit}"):
        model.predict(["a" * (limit + 1)])
    with pytest.raises(InvalidInputError, match="top_k must be between 1 and 3"):
        model.predict(["fine"], PredictParams(top_k=4))
