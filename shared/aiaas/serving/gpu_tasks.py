"""Generative models (chat, speech) marked ``gpu``: validated here, run whole in the container.

Forwarding their graphs tensor by tensor, as other ``gpu`` models are, would send a language
model's key/value cache over the network at every token. So a request is checked here by the
model's own processor (its tokenizer or audio decoder: a bad request is refused, and a good
one metered, before anything is forwarded), then sent as it came to the container, which runs
the same processor on its GPU sessions (`aiaas.gpu.models.GpuModels.run_task`) and answers
the result. A chat stream arrives as one delta: the container answers once (SageMaker's
InvokeEndpoint does not stream, and API Gateway's HTTP API buffers responses anyway).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiaas.serving.gpu import GpuBackend, GpuTaskTarget
from aiaas_runtime import RunError
from aiaas_runtime.tasks import PredictParams, TaskProcessor

if TYPE_CHECKING:
    from aiaas_runtime.tasks.chat import Delta


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A validated request: as it is sent (bytes as base64) and as the processor read it."""

    item: Any
    prepared: Any


class NoLocalGraph:
    """The runner of a model whose graphs run in the container: nothing runs here."""

    output_names: tuple[str, ...] = ()

    def run(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Never called: `ForwardedTask` forwards whole requests."""
        raise RunError("this model runs in the GPU container; no graph runs here")


class ForwardedTask:
    """A `TaskProcessor` that validates with the model's own processor and forwards.

    Args:
        local: The model's processor, opened on its tokenizer (and mel filters) only.
        backend: The GPU container.
        target: The version and its files.
    """

    def __init__(self, local: TaskProcessor, backend: GpuBackend, target: GpuTaskTarget) -> None:
        self.local = local
        self.backend = backend
        self.target = target

    def check_params(self, params: PredictParams) -> None:
        """As the model's processor."""
        self.local.check_params(params)

    def check_request(self, items: Sequence[Any]) -> None:
        """As the model's processor."""
        self.local.check_request(items)

    def prepare(self, item: Any, index: int) -> Forwarded:
        """Validate ``item`` here; keep it to send."""
        return Forwarded(_sendable(item), self.local.prepare(item, index))

    def length(self, prepared: Forwarded) -> int:
        """Tokens of a prompt, seconds of audio: what the request is metered by."""
        return self.local.length(prepared.prepared)

    def collate(self, prepared: Sequence[Forwarded]) -> dict[str, Any]:
        """Never called: generation runs its own loop, in the container."""
        raise RunError("this model runs in the GPU container")

    def postprocess(self, outputs: dict[str, Any], params: PredictParams) -> list[dict[str, Any]]:
        """Never called: the container answers results."""
        raise RunError("this model runs in the GPU container")

    def run_items(
        self, runner: Any, prepared: Sequence[Forwarded], params: PredictParams
    ) -> list[dict[str, Any]]:
        """Each request's result, from the container (as the processor's own `run_items`)."""
        return [self.backend.run_task(self.target, request.item) for request in prepared]

    def stream(self, runner: Any, request: Forwarded) -> Iterator[Delta]:
        """A chat request's answer as one delta, with its finish reason."""
        from aiaas_runtime.tasks.chat import Delta  # noqa: PLC0415 - chat models only

        result = self.backend.run_task(self.target, request.item)
        yield Delta(
            str(result["text"]), int(result["completion_tokens"]), str(result["finish_reason"])
        )


def _sendable(item: Any) -> Any:
    """The request as JSON can carry it: bytes (an audio file) as base64 text, which the
    processors take as well."""
    if isinstance(item, bytes | bytearray):
        return base64.b64encode(item).decode("ascii")
    if isinstance(item, dict):
        return {key: _sendable(value) for key, value in item.items()}
    return item
