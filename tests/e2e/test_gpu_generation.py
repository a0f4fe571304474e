"""The chat and speech built-ins marked ``gpu`` (``make seed GPU=...``; here the local stack's
``AIAAS_GPU_BUILTINS``): ChatFunction validates and meters each request, then forwards it
whole to the GPU container app (a local process on CPU here), which runs the same processor
on its own sessions. The official ``openai`` client sees the same answers as on the CPU."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai as openai_errors
import pytest
from openai import OpenAI

from aiaas_dev.stack import LocalStack
from tests.conftest import load_testdata
from tests.e2e.accounts import new_account
from tests.e2e.inprocess import in_process_stack
from tests.speech import clip, wer

pytestmark = pytest.mark.e2e

CHAT, SPEECH = "smollm2-135m-instruct", "whisper-tiny-en"


@pytest.fixture(scope="module")
def stack(models_dir: Path) -> Iterator[LocalStack]:
    env = {"AIAAS_GPU_BUILTINS": f"{CHAT},{SPEECH}"}
    with in_process_stack(models_dir, env=env, gpu_app=True) as running:
        yield running


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def account(http: httpx.Client) -> dict[str, Any]:
    return new_account(http)


@pytest.fixture(scope="module")
def client(stack: LocalStack, account: dict[str, Any]) -> OpenAI:
    return OpenAI(base_url=f"{stack.base_url}/v1", api_key=account["key"], max_retries=0,
                  timeout=120)  # fmt: skip


def task_runs(stack: LocalStack) -> dict[str, int]:
    """Requests each generative model ran in the GPU app (its /stats)."""
    assert stack.gpu_app is not None
    stats = httpx.get(f"{stack.gpu_app.url}/stats", timeout=10).json()
    return {entry["model"]: entry["requests"] for entry in stats["tasks"]}


def test_the_catalog_says_they_run_on_the_gpu(http: httpx.Client, account: dict[str, Any]) -> None:
    listed = http.get("/v1/models", headers={"x-api-key": account["key"]}).json()["data"]
    runtimes = {m["id"]: m["runtime"] for m in listed}
    assert runtimes[CHAT] == runtimes[SPEECH] == "gpu" and runtimes["iris-rf"] == "cpu"


def test_chat_runs_in_the_gpu_app_with_the_cpus_answer(client: OpenAI, stack: LocalStack) -> None:
    before = task_runs(stack).get(CHAT, 0)
    reference = load_testdata("chat_reference")["answers"][1]
    messages = [{"role": "user", "content": reference["question"]}]
    answer = client.chat.completions.create(
        model=CHAT, messages=messages, temperature=0, max_tokens=24
    )
    assert answer.choices[0].message.content == reference["reference"]
    assert answer.usage.prompt_tokens > 10 and answer.usage.completion_tokens > 0
    streamed = client.chat.completions.create(
        model=CHAT, messages=messages, temperature=0, max_tokens=24, stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in streamed if chunk.choices)
    assert text == reference["reference"]
    assert task_runs(stack)[CHAT] == before + 2


def test_speech_runs_in_the_gpu_app(client: OpenAI, stack: LocalStack) -> None:
    before = task_runs(stack).get(SPEECH, 0)
    audio, text = clip(2)
    answer = client.audio.transcriptions.create(
        model=SPEECH, file=("meeting.wav", audio), response_format="verbose_json"
    )
    assert wer(text, answer.text) <= 0.15 and answer.segments
    assert task_runs(stack)[SPEECH] == before + 1


def test_bad_requests_are_refused_before_forwarding(client: OpenAI, stack: LocalStack) -> None:
    before = task_runs(stack)
    with pytest.raises(openai_errors.BadRequestError):
        client.chat.completions.create(model=CHAT, messages=[{"role": "robot", "content": "x"}])
    with pytest.raises(openai_errors.BadRequestError):
        client.audio.transcriptions.create(model=SPEECH, file=("a.wav", b"not audio"))
    assert task_runs(stack) == before


def test_usage_counts_gpu_calls_as_cpu_ones(http: httpx.Client, stack: LocalStack) -> None:
    account = new_account(http)
    client = OpenAI(base_url=f"{stack.base_url}/v1", api_key=account["key"], max_retries=0)
    answer = client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Hi"}], max_tokens=4
    )
    usage = http.get("/v1/usage", headers={"x-api-key": account["key"]}).json()
    assert usage["by_model"][CHAT] == 1
    units = usage["units_by_model"][CHAT]
    assert units["prompt_tokens"] == answer.usage.prompt_tokens
    assert units["completion_tokens"] == answer.usage.completion_tokens
