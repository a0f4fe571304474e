"""smollm2-135m-instruct on the runtime: GGUF blocks expand to the exact weights, greedy
answers equal PyTorch's (the model build's reference), sampling is seeded, stop strings and
length limits end a stream, and every bad request is refused before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiaas_runtime import ContextLengthError, ModelRegistry, PredictParams
from aiaas_runtime import blocks as block_weights
from aiaas_runtime.errors import InvalidInputError
from aiaas_runtime.tasks.chat import _safe_prefix, _sample
from tests.conftest import load_testdata

NAME = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def model(models_dir: Path):  # type: ignore[no-untyped-def]
    return ModelRegistry(models_dir).get(NAME)


def chat(content: str, **options: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **options}


def test_blocks_round_trip_exactly() -> None:
    rng = np.random.default_rng(0)
    d = rng.uniform(0.001, 0.02, (4, 1, 8)).astype(np.float16)
    m = (-rng.uniform(0, 0.1, (4, 1, 8))).astype(np.float16)
    q = rng.integers(0, 16, (4, 32, 8)).astype(np.float32)
    q[:, 0], q[:, 1] = 0, 15  # GGUF's grid spans each block
    weight = (q * d.astype(np.float32) + m.astype(np.float32)).reshape(128, 8)
    packed = block_weights.pack_q4_1(weight)
    assert packed is not None
    parts = {"w.q": packed["q"], "w.d": packed["d"], "w.m": packed["m"]}
    back = block_weights.expand({"w": {"format": "q4_1", "shape": [128, 8]}}, parts)
    assert np.array_equal(back["w"], weight)
    assert block_weights.pack_q4_1(weight + 1e-3) is None  # not on the grid: refused, not rounded


def test_greedy_answers_equal_pytorch(model) -> None:  # type: ignore[no-untyped-def]
    answers = load_testdata("chat_reference")["answers"]
    for answer in answers[:3]:
        request = chat(answer["question"], temperature=0, max_tokens=24)
        result = model.predict([request]).results[0]
        assert result["text"] == answer["reference"], answer["question"]
        assert result["completion_tokens"] <= 24
        assert result["finish_reason"] in ("stop", "length")


def test_the_capital_of_france(model) -> None:  # type: ignore[no-untyped-def]
    result = model.predict([chat("What is the capital of France?", temperature=0)]).results[0]
    assert "Paris" in result["text"]
    assert result["finish_reason"] == "stop"


def test_stream_is_the_whole_answer_in_pieces(model) -> None:  # type: ignore[no-untyped-def]
    prepared = model.prepare([chat("Write a haiku about autumn.", temperature=0, max_tokens=30)])
    deltas = list(model.stream(prepared.items[0]))
    whole = model.run_prepared(prepared).results[0]
    assert "".join(d.text for d in deltas) == whole["text"]
    assert [d.finish_reason for d in deltas[:-1]] == [None] * (len(deltas) - 1)
    assert deltas[-1].finish_reason == whole["finish_reason"]
    assert deltas[-1].completion_tokens == whole["completion_tokens"]
    assert len([d for d in deltas if d.text]) > 3  # it streams, not one lump


def test_max_tokens_ends_with_length(model) -> None:  # type: ignore[no-untyped-def]
    result = model.predict([chat("Explain photosynthesis simply.", max_tokens=5)]).results[0]
    assert result == result | {"finish_reason": "length", "completion_tokens": 5}


def test_stop_string_cuts_the_answer(model) -> None:  # type: ignore[no-untyped-def]
    free = model.predict([chat("Count from 1 to 10.", temperature=0, max_tokens=40)]).results[0]
    assert "4" in free["text"]
    cut = model.predict([chat("Count from 1 to 10.", temperature=0, max_tokens=40, stop="4")])
    result = cut.results[0]
    assert result["finish_reason"] == "stop"
    assert result["text"] == free["text"][: free["text"].index("4")]


def test_seed_makes_sampling_repeatable(model) -> None:  # type: ignore[no-untyped-def]
    request = chat("Tell me a short story.", temperature=1.0, top_p=0.95, seed=7, max_tokens=20)
    first, again = (model.predict([request]).results[0]["text"] for _ in range(2))
    assert first == again
    texts = {model.predict([request | {"seed": seed}]).results[0]["text"] for seed in range(1, 5)}
    assert len(texts) > 1


def test_special_tokens_in_content_stay_text(model) -> None:  # type: ignore[no-untyped-def]
    processor = model.processor
    injected = processor.render([{"role": "user", "content": "<|im_end|>"}])
    plain = processor.render([{"role": "user", "content": "x"}])
    assert injected.count(2) == plain.count(2)  # <|im_end|> (id 2) only where the template puts it


def test_default_system_prompt_and_roles(model) -> None:  # type: ignore[no-untyped-def]
    decode = model.processor.tokenizer.decode
    text = decode(model.processor.render([{"role": "user", "content": "Hi"}]))
    assert "SmolLM" in text
    own = decode(model.processor.render([{"role": "developer", "content": "Be terse."},
                                         {"role": "user", "content": "Hi"}]))  # fmt: skip
    assert "SmolLM" not in own and "Be terse." in own


@pytest.mark.parametrize(
    ("request_body", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "42"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10_000}, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 3}, "temperature"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_p": 0}, "top_p"),
        ({"messages": [{"role": "user", "content": "hi"}], "seed": "x"}, "seed"),
        ({"messages": [{"role": "user", "content": "hi"}], "stop": ["a"] * 5}, "stop"),
        ({"prompt": ""}, "prompt"),
        ({"nothing": 1}, "messages"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused(model, request_body: dict[str, Any], param: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError) as refused:
        model.prepare([request_body])
    assert refused.value.param == param, refused.value.message


def test_context_length_is_enforced(model) -> None:  # type: ignore[no-untyped-def]
    long = "word " * 1200
    with pytest.raises(ContextLengthError, match="maximum context length is 1024 tokens"):
        model.prepare([chat(long)])
    with pytest.raises(ContextLengthError):
        model.prepare([chat("word " * 900, max_tokens=200)])


def test_task_options_do_not_apply(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="generates text"):
        model.prepare([chat("hi")], PredictParams(top_k=3))


def test_sampling_helpers() -> None:
    logits = np.array([0.0, 5.0, 1.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    assert _sample(logits, 0.0, 1.0, rng) == 1
    assert {_sample(logits, 1.0, 0.5, rng) for _ in range(50)} == {1}  # the nucleus is one token
    assert _safe_prefix("Hello wor", ("world",)) == "Hello "
    assert _safe_prefix("caf\ufffd", ()) == "caf"
