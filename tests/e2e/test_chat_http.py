"""Chat over real HTTP with the official ``openai`` client: chat completions with and without
``stream=True`` (chunks arriving while the answer is generated), legacy completions, every
bad request as OpenAI's error, tokens in the usage report, quotas, and a factual answer."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai as openai_errors
import pytest
from openai import OpenAI

from tests.conftest import load_testdata
from tests.e2e.accounts import new_account
from tests.e2e.batch_jobs import batch_headers, output, submit, wait_for_job
from tests.e2e.conftest import RUNNING

pytestmark = pytest.mark.e2e

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def client(local_stack: str, account: dict[str, Any]) -> OpenAI:
    return OpenAI(base_url=f"{local_stack}/v1", api_key=account["key"], max_retries=0, timeout=60)


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def test_models_list_the_chat_model(
    client: OpenAI, http: httpx.Client, key: dict[str, str]
) -> None:
    assert MODEL in {m.id for m in client.models.list().data}
    listed = http.get("/v1/models", headers=key).json()["data"]
    assert next(m for m in listed if m["id"] == MODEL)["task"] == "chat"


def test_a_factual_question_gets_the_right_answer(client: OpenAI) -> None:
    answer = client.chat.completions.create(
        model=MODEL, messages=ask("What is the capital of France?"), temperature=0
    )
    assert answer.object == "chat.completion" and answer.model == MODEL
    choice = answer.choices[0]
    assert "Paris" in choice.message.content and choice.message.role == "assistant"
    assert choice.finish_reason == "stop"
    usage = answer.usage
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 256
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_greedy_answers_are_pytorchs(client: OpenAI) -> None:
    reference = load_testdata("chat_reference")["answers"][1]
    answer = client.chat.completions.create(
        model=MODEL, messages=ask(reference["question"]), temperature=0, max_tokens=24
    )
    assert answer.choices[0].message.content == reference["reference"]


def test_stream_arrives_in_chunks_while_generating(client: OpenAI) -> None:
    request = {"model": MODEL, "messages": ask("Write a haiku about autumn."),
               "temperature": 0, "max_tokens": 40}  # fmt: skip
    whole = client.chat.completions.create(**request).choices[0].message.content
    started = time.perf_counter()
    arrivals, texts, finish = [], [], None
    stream = client.chat.completions.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    usage = None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
            continue
        arrivals.append(time.perf_counter() - started)
        delta = chunk.choices[0].delta
        texts.append(delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    assert "".join(texts) == whole
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 5
    # incremental: the first text came well before the last (tokens are ~tens of ms apart)
    assert arrivals[-1] - arrivals[1] > 0.2, arrivals


def test_raw_event_stream_ends_with_done(http: httpx.Client, key: dict[str, str]) -> None:
    body = {"model": MODEL, "messages": ask("Hi"), "max_tokens": 5, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body, headers=key) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert events[-1]["choices"][0]["finish_reason"] == "length"


def test_legacy_completions(client: OpenAI) -> None:
    answer = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0
    )
    assert answer.object == "text_completion"
    assert answer.choices[0].text and answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage.completion_tokens <= 8
    pieces = client.completions.create(
        model=MODEL, prompt="The capital of France is", max_tokens=8, temperature=0, stream=True
    )
    assert "".join(c.choices[0].text for c in pieces) == answer.choices[0].text


def test_stop_and_seed(client: OpenAI) -> None:
    request = {"model": MODEL, "messages": ask("Count from 1 to 10."), "temperature": 0}
    cut = client.chat.completions.create(**request, stop=["4"])
    assert cut.choices[0].finish_reason == "stop" and "4" not in cut.choices[0].message.content
    sampled = {"model": MODEL, "messages": ask("Name a color."), "temperature": 1, "seed": 3,
               "max_tokens": 10}  # fmt: skip
    first = client.chat.completions.create(**sampled).choices[0].message.content
    assert client.chat.completions.create(**sampled).choices[0].message.content == first


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
         "messages[0].content"),
        ({"messages": [{"role": "tool", "content": "42", "tool_call_id": "t"}]},
         "messages[0].role"),
        ({"n": 2}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 100_000}, "max_tokens"),
        ({"temperature": 2.5}, "temperature"),
        ({"messages": ask("word " * 1500)}, "messages"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
    ],
)  # fmt: skip
def test_bad_requests_are_openai_errors(
    client: OpenAI, options: dict[str, Any], param: str
) -> None:
    request = {"model": MODEL, "messages": ask("hi"), **options}
    with pytest.raises(openai_errors.BadRequestError) as refused:
        client.chat.completions.create(**request)
    error = refused.value.body
    assert error["type"] == "invalid_request_error" and error["param"] == param, error
    assert error["message"]


def test_context_length_error_code(http: httpx.Client, key: dict[str, str]) -> None:
    body = {"model": MODEL, "messages": ask("word " * 1500)}
    response = http.post("/v1/chat/completions", json=body, headers=key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and "1024 tokens" in error["message"]


def test_unknown_and_non_chat_models(client: OpenAI) -> None:
    with pytest.raises(openai_errors.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=ask("hi"))
    with pytest.raises(openai_errors.BadRequestError, match="does not generate text"):
        client.chat.completions.create(model="iris-rf", messages=ask("hi"))


def test_tokens_are_metered_and_quota_applies(http: httpx.Client, local_stack: str) -> None:
    account = new_account(http)
    headers = {"x-api-key": account["key"]}
    scopes = {"name": "chat", "scopes": ["predict"], "daily_quota": 2}
    limited = http.post("/v1/keys", headers=headers, json=scopes).json()
    client = OpenAI(base_url=f"{local_stack}/v1", api_key=limited["key"], max_retries=0)
    answers = [
        client.chat.completions.create(model=MODEL, messages=ask("Hi"), max_tokens=6),
        client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=4),
    ]
    with pytest.raises(openai_errors.RateLimitError):
        client.chat.completions.create(model=MODEL, messages=ask("Hi"), max_tokens=6)
    usage = http.get("/v1/usage", headers=headers).json()
    assert usage["by_model"][MODEL] == 2
    units = usage["units_by_model"][MODEL]
    assert units["prompt_tokens"] == sum(a.usage.prompt_tokens for a in answers)
    assert units["completion_tokens"] == sum(a.usage.completion_tokens for a in answers)
    other = new_account(http)
    assert (
        MODEL not in http.get("/v1/usage", headers={"x-api-key": other["key"]}).json()["by_model"]
    )


def test_each_call_emits_its_tokens_as_emf(http: httpx.Client, local_stack: str) -> None:
    account = new_account(http)
    client = OpenAI(base_url=f"{local_stack}/v1", api_key=account["key"], max_retries=0)
    answers = [
        client.chat.completions.create(model=MODEL, messages=ask("Hi"), max_tokens=5),
        client.completions.create(model=MODEL, prompt="Hello", max_tokens=3),
    ]
    streamed = client.chat.completions.create(
        model=MODEL, messages=ask("Hi"), max_tokens=4, stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    usage = next(c.usage for c in streamed if c.usage is not None)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in RUNNING[local_stack].lines
                 if line.startswith('{"_aws"') and account["tenant"] in line]  # fmt: skip
        if len(lines) == 3:
            break
        time.sleep(0.2)
    assert [(line["model"], line["route"]) for line in lines] == [(MODEL, "completions")] * 3
    assert [(line["PromptTokens"], line["CompletionTokens"]) for line in lines] == [
        (a.usage.prompt_tokens, a.usage.completion_tokens) for a in answers
    ] + [(usage.prompt_tokens, usage.completion_tokens)]
    names = {m["Name"] for m in lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"PromptTokens", "CompletionTokens", "LatencyMs", "Requests"} <= names


def test_a_batch_job_of_chat_requests_keeps_every_line(
    http: httpx.Client, account: dict[str, Any]
) -> None:
    headers = batch_headers(http, account["token"])
    question = load_testdata("chat_reference")["answers"][0]
    body = {"messages": ask(question["question"]), "temperature": 0, "max_tokens": 24}
    lines = [
        {"id": 1, "input": body},
        {"custom_id": "two", "method": "POST", "url": "/v1/chat/completions",
         "body": {"messages": ask("Say hi."), "max_tokens": 3}},
        {"id": 3, "input": {"messages": [{"role": "robot", "content": "hi"}]}},
        {"id": 4, "input": {"prompt": "Once upon a time", "max_tokens": 2}},
    ]  # fmt: skip
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    job = wait_for_job(http, headers, submit(http, headers, MODEL, data)["id"])
    rows = output(job)
    assert job["status"] == "PARTIALLY_FAILED" and [r["id"] for r in rows] == [1, "two", 3, 4]
    assert rows[0]["output"]["text"] == question["reference"]
    assert rows[1]["output"]["completion_tokens"] <= 3
    assert rows[1]["output"]["finish_reason"] in ("stop", "length")
    assert "messages[0].role" in rows[2]["error"]["message"]
    assert rows[3]["output"]["completion_tokens"] <= 2
