"""What serving a model costs on Lambda: a million single predictions, or a million rows
sent ``batch`` to a request, from measured latency (registration measures it for uploaded
models, the model build for the built-ins)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BATCH = 32  # rows per request in the batched cost (and the latency profile's larger batch)
DEFAULT_SERVING_MEMORY_MB = 2048  # template.yaml's PredictFunction
CHAT_SERVING_MEMORY_MB = 3538  # template.yaml's ChatFunction
CHAT_TOKENS_PER_REQUEST = 128  # output tokens a chat request, for its share of request prices
AUDIO_SECONDS_PER_REQUEST = 30  # a transcription request's audio, for its share of request prices


@dataclass(frozen=True, slots=True)
class PriceConfig:
    """Lambda pricing of the function that serves the model (x86, us-east-1 by default).

    Attributes:
        memory_mb: The serving function's memory size.
        per_gb_second: Price of one GB-second of duration, in USD.
        per_request: Price of one invocation, in USD.
    """

    memory_mb: int
    per_gb_second: float = 0.0000166667
    per_request: float = 0.0000002


def cost_per_million(p50_ms: float, price: PriceConfig) -> float:
    """Return the Lambda price in USD of a million single predictions.

    Duration is billed in whole milliseconds (rounded up, at least 1) at the function's
    memory size, plus the per-request price. Only model time counts: the handler's own
    overhead is not in ``p50_ms``.
    """
    billed_seconds = max(1, math.ceil(p50_ms)) / 1000
    per_call = billed_seconds * (price.memory_mb / 1024) * price.per_gb_second + price.per_request
    return 1_000_000 * per_call


def cost_per_million_tokens(
    tokens_per_s_per_vcpu: float,
    tokens_per_request: int,
    *,
    memory_mb: int,
    per_gb_second: float,
    per_request: float,
    mb_per_vcpu: int = 1769,
) -> float:
    """USD per 1M tokens on Lambda, from a throughput measured per vCPU.

    A function of ``memory_mb`` gets ``memory_mb / mb_per_vcpu`` vCPUs (1,769 MB is one), so
    it processes ``tokens_per_s_per_vcpu x vCPUs`` tokens a second while billed for
    ``memory_mb / 1024`` GB; each request of ``tokens_per_request`` tokens also pays
    ``per_request``. Past one vCPU the memory cancels out: more memory is faster, not dearer.
    """
    vcpus = memory_mb / mb_per_vcpu
    seconds = 1_000_000 / (tokens_per_s_per_vcpu * vcpus)
    requests = 1_000_000 / tokens_per_request
    return seconds * (memory_mb / 1024) * per_gb_second + requests * per_request


def priced_latency(
    p50_ms: Mapping[int, float], threads: int, variant: str, price: PriceConfig
) -> dict[str, float | str | int | None]:
    """The latency profile's costs: a million single predictions (one request each, billed
    per ms), and a million predictions sent ``BATCH`` to a request, from the rows per second
    per vCPU measured (the formula `make bench` prices embedding tokens with)."""
    single, batched = p50_ms.get(1), p50_ms.get(BATCH)
    per_vcpu = BATCH / (batched / 1000) / threads if batched else None
    return {
        "variant": variant,
        "memory_mb": price.memory_mb,
        "cost_per_million_usd": cost_per_million(single, price) if single else None,
        "cost_per_million_batched_usd": cost_per_million_tokens(
            per_vcpu, BATCH, memory_mb=price.memory_mb, per_gb_second=price.per_gb_second,
            per_request=price.per_request,
        ) if per_vcpu else None,
    }  # fmt: skip


def priced_tokens(measured: Mapping[str, Any], variant: str) -> dict[str, float | str | int]:
    """A chat model's cost of a million generated tokens at ChatFunction's memory, from the
    decode speed its build measured (tokens a second on ``threads`` vCPUs), requests of
    ``CHAT_TOKENS_PER_REQUEST`` tokens; the prompt's prefill is not in it."""
    per_vcpu = float(measured["decode_tokens_per_s"]) / int(measured["threads"])
    cost = _at_chat_memory(per_vcpu, CHAT_TOKENS_PER_REQUEST)
    return {"variant": variant, "memory_mb": CHAT_SERVING_MEMORY_MB,
            "cost_per_million_output_tokens_usd": cost}  # fmt: skip


def priced_audio(measured: Mapping[str, Any], variant: str) -> dict[str, float | str | int]:
    """A speech model's cost of an hour of audio at ChatFunction's memory, from the real-time
    factor its build measured (audio seconds read a second on ``threads`` vCPUs), requests of
    ``AUDIO_SECONDS_PER_REQUEST`` seconds (the formula of `cost_per_million_tokens`, with audio
    seconds for tokens)."""
    per_vcpu = float(measured["real_time_factor"]) / int(measured["threads"])
    per_million_seconds = _at_chat_memory(per_vcpu, AUDIO_SECONDS_PER_REQUEST)
    return {"variant": variant, "memory_mb": CHAT_SERVING_MEMORY_MB,
            "cost_per_audio_hour_usd": per_million_seconds * 3600 / 1_000_000}  # fmt: skip


def _at_chat_memory(units_per_s_per_vcpu: float, units_per_request: int) -> float:
    """USD per 1M units (tokens, audio seconds) at ChatFunction's memory, x86 prices."""
    price = PriceConfig(memory_mb=CHAT_SERVING_MEMORY_MB)
    return cost_per_million_tokens(
        units_per_s_per_vcpu, units_per_request, memory_mb=price.memory_mb,
        per_gb_second=price.per_gb_second, per_request=price.per_request,
    )  # fmt: skip
