"""The embedding model through the runtime: real onnxruntime session, real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aiaas_runtime import (
    InvalidInputError,
    Model,
    ModelRegistry,
    PredictParams,
    TextTooLongError,
    TooManyInputsError,
)
from tests.conftest import ROOT, load_testdata

NAME = "all-minilm-l6-v2"
EDGE_CASES = ROOT / "tests" / "data" / "embedding_edge_cases.json"


@pytest.fixture(scope="module")
def model(models_dir: Path) -> Model:
    return ModelRegistry(models_dir).get(NAME)


def embed(model: Model, texts: list[str], **params: int) -> np.ndarray:
    results = model.predict(texts, PredictParams(**params)).results
    return np.array([r["embedding"] for r in results])


def test_one_text_gives_one_384_dimensional_unit_vector(model: Model) -> None:
    vectors = embed(model, ["hello world"])
    assert vectors.shape == (1, 384)
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(model: Model) -> None:
    cat, kitten, tax = embed(
        model,
        [
            "A cat sits on the mat.",
            "A kitten is sitting on a rug.",
            "File your tax return by April.",
        ],
    )
    assert cat @ kitten > cat @ tax + 0.3


def test_batched_results_keep_input_order_across_length_buckets(model: Model) -> None:
    # Given texts of very different lengths (the runtime batches similar lengths together)
    texts = [("word " * n).strip() + f" {n}" for n in (40, 1, 90, 3, 7, 60, 2)] * 6
    # When they are embedded in one request and one at a time
    batched = embed(model, texts)
    single = np.vstack([embed(model, [t]) for t in texts])
    # Then each row is the embedding of its own text
    cosines = np.sum(batched * single, axis=1)
    assert cosines.min() > 0.97


def test_long_text_is_truncated_at_the_models_max_length(model: Model) -> None:
    long = " ".join(f"token{i}" for i in range(2000))
    encoded = model.processor.prepare(long, 0)
    assert model.processor.length(encoded) == 256
    assert embed(model, [long]).shape == (1, 384)


def test_padding_is_to_the_longest_text_not_a_fixed_length(model: Model) -> None:
    feeds = model.processor.collate([model.processor.prepare(t, 0) for t in ["hi", "hello there"]])
    assert feeds["input_ids"].shape == (2, 4)  # [CLS] hello there [SEP]


def test_dimensions_truncates_and_renormalizes(model: Model) -> None:
    full, short = embed(model, ["hello"])[0], embed(model, ["hello"], dimensions=64)[0]
    assert short.shape == (64,)
    assert np.linalg.norm(short) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(short, full[:64] / np.linalg.norm(full[:64]), atol=1e-5)


@pytest.mark.parametrize(
    ("inputs", "error", "param"),
    [
        ([], InvalidInputError, "inputs"),
        (["ok", 3], InvalidInputError, "inputs[1]"),
        ([None], InvalidInputError, "inputs[0]"),
        ([["nested"]], InvalidInputError, "inputs[0]"),
        ([[101, 10**9]], InvalidInputError, "inputs[0]"),
        (["x" * 100_000], TextTooLongError, "inputs[0]"),
        (["hi"] * 10_000, TooManyInputsError, "inputs"),
    ],
)
def test_bad_inputs_raise_typed_errors_naming_the_item(
    model: Model, inputs: list[object], error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as info:
        model.predict(inputs)
    assert info.value.param == param  # type: ignore[attr-defined]


def test_dimensions_out_of_range_is_rejected(model: Model) -> None:
    with pytest.raises(InvalidInputError, match="dimensions"):
        model.predict(["hi"], PredictParams(dimensions=385))


def test_token_ids_embed_like_the_text_they_encode(model: Model) -> None:
    ids = model.processor.tokenizer.encode("hello world").ids
    from_text, from_ids = embed(model, ["hello world"]), embed(model, [ids])
    np.testing.assert_allclose(from_text, from_ids, atol=1e-6)
    assert model.predict([ids, "hello world"]).tokens == 2 * len(ids)


def test_edge_cases_match_sentence_transformers_and_ignore_their_batch(model: Model) -> None:
    # Given the held-out edge cases (tests/data/embedding_edge_cases.json) and
    # sentence-transformers' own fp32 embeddings of them, written by the model build
    reference = load_testdata("embedding_edge_cases_reference")
    texts, want = reference["texts"], np.array(reference["embeddings"], dtype=np.float32)
    categories = json.loads(EDGE_CASES.read_text(encoding="utf-8"))["cases"]
    assert texts == [text for group in categories.values() for text in group]
    # When each is embedded alone, as a search query is
    alone = np.vstack([embed(model, [text]) for text in texts])
    # Then the served int8 embeddings are close to fp32 PyTorch on every one of them
    cosines = np.sum(alone * want, axis=1) / np.linalg.norm(want, axis=1)
    assert cosines.min() >= 0.98, texts[int(cosines.argmin())]
    assert cosines.mean() >= 0.993
    # And an input embeds the same in a 32-row request of mixed neighbours as alone
    for start in range(0, len(texts), 32):
        rows = texts[start : start + 32]
        together = embed(model, rows + texts[: 32 - len(rows)])[: len(rows)]
        same = np.sum(together * alone[start : start + len(rows)], axis=1)
        assert same.min() >= 0.9999, rows[int(same.argmin())]
