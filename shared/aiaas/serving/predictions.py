"""One prediction service: resolve -> validate -> meter and quota -> run -> time -> result.

The native, Open Inference Protocol and OpenAI routes and batch scoring only decode their
wire format, call this service and encode its result. Only requests that were valid are
metered: a bad input is refused before it costs the caller a unit of quota.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiaas.auth.principal import Principal
from aiaas.errors import (
    ContextLengthExceeded,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from aiaas.protocols import InferRequest
from aiaas.serving import observations
from aiaas_runtime import (
    AudioTooLongError,
    ContextLengthError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    PredictParams,
)

if TYPE_CHECKING:
    from aiaas.serving.capture import CaptureBuffer
    from aiaas.serving.resolver import ModelResolver, ServedModel
    from aiaas_runtime.explain import Explainer, ExplainParams
    from aiaas_runtime.model import Tensors


class Meter(Protocol):
    """Quota and usage (``aiaas.domain.usage.UsageService``)."""

    def consume(self, caller: Principal, model: str) -> None:
        """Count one request against the caller's quota (QuotaExceeded when over)."""
        ...

    def add_units(self, caller: Principal, model: str, units: dict[str, int]) -> None:
        """Add what a counted request consumed (tokens) to the caller's usage."""
        ...


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """What a prediction returns to the caller, plus what ran and how long it took."""

    served: ServedModel
    outputs: list[dict[str, Any]]
    inference_ms: float
    tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The response body of the native predict route."""
        return {
            "model": self.served.name,
            "version": self.served.version,
            "task": self.served.task,
            "outputs": self.outputs,
        }


@dataclass(frozen=True, slots=True)
class ExplainResult:
    """Explanations of one request's inputs, in order, and what they cost."""

    served: ServedModel
    outputs: list[dict[str, Any]]
    evaluations: int
    explain_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The response body of the explain route."""
        return {
            "model": self.served.name,
            "version": self.served.version,
            "task": self.served.task,
            "evaluations": self.evaluations,
            "explanations": self.outputs,
        }


@dataclass(frozen=True, slots=True)
class InferResult:
    """Output tensors of an Open Inference Protocol request, and the request they answer."""

    served: ServedModel
    request: InferRequest
    outputs: Tensors
    inference_ms: float


@dataclass(frozen=True, slots=True)
class ChatCall:
    """A validated, metered generation request, ready to run whole or as a stream."""

    served: ServedModel
    request: Any  # aiaas_runtime.tasks.chat.Generation
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A whole generated answer."""

    served: ServedModel
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    inference_ms: float


@dataclass(frozen=True, slots=True)
class TranscriptionResult:
    """A transcript (`aiaas_runtime.tasks.speech`: text, language, duration, segments)."""

    served: ServedModel
    transcript: dict[str, Any]
    audio_seconds: int
    inference_ms: float


@contextmanager
def runtime_errors() -> Iterator[None]:
    """Translate the runtime's typed errors into domain errors at this boundary."""
    try:
        yield
    except ContextLengthError as exc:
        raise ContextLengthExceeded(exc.message, param=exc.param) from exc
    except AudioTooLongError as exc:
        raise PayloadTooLarge(exc.message, param=exc.param) from exc
    except InvalidInputError as exc:
        raise InvalidInput(exc.message, param=exc.param) from exc
    except ModelNotFoundError as exc:
        raise NotFound(exc.message, param=exc.param) from exc
    except ModelLoadError as exc:
        raise Unavailable(f"model cannot be served right now: {exc.message}") from exc


class PredictionService:
    """Runs every model the resolver finds, for a caller.

    Args:
        resolver: Finds and opens models.
        meter: Quota and usage; None where nothing is metered per request (batch jobs
            are metered when they finish).
        capture: Where sampled requests of versions with data capture on go (None: off).
        clock: Seconds, for timing inference.
    """

    def __init__(
        self,
        resolver: ModelResolver,
        meter: Meter | None = None,
        *,
        capture: CaptureBuffer | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.resolver = resolver
        self.meter = meter
        self.capture = capture
        self.clock = clock

    def resolve(self, caller: Principal, name: str, version: int | None = None) -> ServedModel:
        """The model ``caller`` names (NotFound, Conflict or Unavailable otherwise)."""
        with runtime_errors():
            return self.resolver.resolve(caller, name, version)

    def predict(
        self,
        caller: Principal,
        name: str,
        inputs: Sequence[Any],
        params: PredictParams | None = None,
        version: int | None = None,
    ) -> PredictionResult:
        """Task-level answers: one output per input, in order."""
        served = self.resolve(caller, name, version)
        return self._predict(caller, served, inputs, params)

    def embed(
        self,
        caller: Principal,
        name: str,
        inputs: Sequence[str | list[int]],
        dimensions: int | None = None,
    ) -> PredictionResult:
        """Embeddings from an embedding model; InvalidInput for any other task."""
        served = self.resolve(caller, name)
        if served.task != "embedding":
            raise InvalidInput(f"model {name!r} is not an embedding model", param="model")
        return self._predict(caller, served, inputs, PredictParams(dimensions=dimensions))

    def start_chat(self, caller: Principal, name: str, body: dict[str, Any]) -> ChatCall:
        """Validate a chat or completion body (``messages`` or ``prompt`` and its options)
        for a chat model and count the request; nothing is generated yet."""
        served = self._of_task(caller, name, "chat", "does not generate text")
        with runtime_errors():
            prepared = served.model.prepare([body])
        self._meter(caller, served)
        return ChatCall(served, prepared.items[0], prepared.tokens)

    def complete(self, caller: Principal, call: ChatCall) -> ChatResult:
        """Generate the whole answer; its tokens go to the caller's usage."""
        started = self.clock()
        text, finish, completion = "", "length", 0
        for delta in self.stream(caller, call):
            text += delta.text
            completion = delta.completion_tokens
            finish = delta.finish_reason or finish
        elapsed = (self.clock() - started) * 1e3
        return ChatResult(call.served, text, finish, call.prompt_tokens, completion, elapsed)

    def stream(self, caller: Principal, call: ChatCall) -> Iterator[Any]:
        """Text deltas as they are generated (`aiaas_runtime.tasks.chat.Delta`); when the
        stream ends (or its reader stops), the tokens go to the caller's usage and the
        request's observation."""
        completion = 0
        try:
            with runtime_errors():
                for delta in call.served.model.stream(call.request):
                    completion = delta.completion_tokens
                    yield delta
        finally:
            observations.note_tokens(call.prompt_tokens, completion)
            if self.meter is not None:
                units = {"prompt_tokens": call.prompt_tokens, "completion_tokens": completion}
                self.meter.add_units(caller, call.served.name, units)

    def transcribe(
        self, caller: Principal, name: str, request: dict[str, Any]
    ) -> TranscriptionResult:
        """Speech to text: one audio file (``audio``) and its options, for a speech model;
        metered as one request, and its audio seconds (rounded up) in the caller's usage."""
        served = self._of_task(caller, name, "speech-recognition", "does not transcribe audio")
        with runtime_errors():
            prepared = served.model.prepare([request])
        _check_sync_seconds(served, prepared.tokens)
        self._meter(caller, served)
        started = self.clock()
        with runtime_errors():
            transcript = served.model.run_prepared(prepared).results[0]
        elapsed = (self.clock() - started) * 1e3
        observations.note_audio(prepared.tokens)
        if self.meter is not None:
            self.meter.add_units(caller, served.name, {"audio_seconds": prepared.tokens})
        return TranscriptionResult(served, transcript, prepared.tokens, elapsed)

    def infer(
        self,
        caller: Principal,
        name: str,
        version: int | None,
        decode: Callable[[ServedModel], InferRequest],
    ) -> InferResult:
        """Open Inference Protocol: ``decode`` reads the request against the model's tensors."""
        served = self.resolve(caller, name, version)
        decoded = decode(served)
        with runtime_errors():
            request = served.model.prepare_infer(decoded.inputs)
        self._meter(caller, served)
        started = self.clock()
        with runtime_errors():
            outputs = served.model.run_infer(request)
        elapsed = (self.clock() - started) * 1e3
        self._capture(caller, served, [decoded.inputs], [outputs])
        return InferResult(served, decoded, outputs, elapsed)

    def explain(
        self,
        caller: Principal,
        name: str,
        inputs: Sequence[Any],
        params: ExplainParams,
        version: int | None = None,
    ) -> ExplainResult:
        """Why the model answered what it did, per input (see `aiaas_runtime.explain`);
        metered as one explanation request of the model (``<name>:explain`` in usage)."""
        served = self.resolve(caller, name, version)
        explainer = self._explainer(served, name)
        with runtime_errors():
            explainer.check(params)
            served.model.check_count(len(inputs))
        if self.meter is not None:
            self.meter.consume(caller, f"{served.name}:explain")
        started = self.clock()
        with runtime_errors():
            outputs, evaluations = explainer.explain(inputs, params)
        return ExplainResult(served, outputs, evaluations, (self.clock() - started) * 1e3)

    def global_explanation(
        self, caller: Principal, name: str, version: int | None = None
    ) -> ExplainResult:
        """Mean absolute Shapley values over the model's background, and a trained model's
        stored permutation importance; metered as one explanation request."""
        from aiaas_runtime.explain import ExplainParams  # noqa: PLC0415

        served = self.resolve(caller, name, version)
        explainer = self._explainer(served, name)
        stored = served.model.manifest.extra.get("explain") or {}
        params = ExplainParams()
        with runtime_errors():
            explainer.check(params)
        if self.meter is not None:
            self.meter.consume(caller, f"{served.name}:explain")
        started = self.clock()
        with runtime_errors():
            shapley = explainer.global_importance(params)
        answer: dict[str, Any] = {"shapley": shapley}
        if stored.get("importance"):
            answer["permutation_importance"] = stored["importance"]
        elapsed = (self.clock() - started) * 1e3
        return ExplainResult(served, [answer], shapley["evaluations"], elapsed)

    def explain_rows(
        self, caller: Principal, name: str, version: int | None, inputs: Sequence[Any]
    ) -> list[dict[str, Any] | str]:
        """Batch jobs with ``explain``: one explanation per input (default parameters), or
        its error's message; not metered here (the job's rows are, when it finishes)."""
        from aiaas_runtime.explain import ExplainParams  # noqa: PLC0415

        served = self.resolve(caller, name, version)
        explainer = self._explainer(served, name)
        answers: list[dict[str, Any] | str] = []
        for item in inputs:
            try:
                answers.append(explainer.explain([item], ExplainParams())[0][0])
            except InvalidInputError as exc:
                answers.append(exc.message)
        return answers

    def _explainer(self, served: ServedModel, name: str) -> Explainer:
        from aiaas_runtime.explain import Explainer  # noqa: PLC0415

        if served.variant == "gpu":
            raise InvalidInput(
                f"model {name!r} runs on the GPU container, which does not explain; "
                "explanations run on CPU models",
                param="name",
            )
        explain = served.model.manifest.extra.get("explain") or {}
        return Explainer(served.model, explain.get("background"))

    def predict_rows(
        self, caller: Principal, name: str, version: int | None, inputs: Sequence[Any]
    ) -> list[dict[str, Any] | str]:
        """Batch jobs: one outcome per input (an output, or its error's message); not metered
        here (a job is metered once it finishes)."""
        served = self.resolve(caller, name, version)
        with runtime_errors():
            rows = served.model.predict_rows(inputs)
        if self.capture is not None and self._captures(caller, served):
            for item, row in zip(inputs, rows, strict=True):
                if not isinstance(row, InvalidInputError):
                    self._capture(caller, served, [item], [row])
            self.capture.flush()  # a batch function may be frozen once its chunk is done
        return [row.message if isinstance(row, InvalidInputError) else row for row in rows]

    def _predict(
        self,
        caller: Principal,
        served: ServedModel,
        inputs: Sequence[Any],
        params: PredictParams | None,
    ) -> PredictionResult:
        with runtime_errors():
            request = served.model.prepare(inputs, params)
        self._meter(caller, served)
        started = self.clock()
        with runtime_errors():
            prediction = served.model.run_prepared(request)
        elapsed = (self.clock() - started) * 1e3
        lengths = [served.model.processor.length(item) for item in request.items]
        text = served.task in ("embedding", "text-classification")
        observations.note(prediction.results, lengths if text else ())
        self._capture(caller, served, inputs, prediction.results)
        return PredictionResult(served, prediction.results, elapsed, prediction.tokens)

    def _of_task(self, caller: Principal, name: str, task: str, refusal: str) -> ServedModel:
        """The model ``caller`` names, if its task is ``task`` (InvalidInput otherwise)."""
        served = self.resolve(caller, name)
        if served.task != task:
            raise InvalidInput(
                f"model {name!r} {refusal} (its task is {served.task}); GET /v1/models lists "
                f"the {task} models",
                param="model",
            )
        return served

    def _captures(self, caller: Principal, served: ServedModel) -> bool:
        """Whether this version captures this caller's requests: capture is on and the caller
        is the owner's tenant (another tenant's requests are not the owner's data)."""
        return bool(served.capture_percent) and caller.tenant == served.owner

    def _capture(
        self, caller: Principal, served: ServedModel, inputs: Sequence[Any], outputs: Sequence[Any]
    ) -> None:
        if self.capture is not None and self._captures(caller, served):
            key = (served.owner, served.name, served.version)
            self.capture.offer(served.capture_percent, key, inputs, outputs)

    def _meter(self, caller: Principal, served: ServedModel) -> None:
        if self.meter is not None:
            self.meter.consume(caller, served.name)


def _check_sync_seconds(served: ServedModel, seconds: int) -> None:
    """PayloadTooLarge for audio longer than a synchronous call transcribes inside API
    Gateway's 30 s (the manifest's ``max_seconds_sync``); batch jobs take up to
    ``max_seconds``."""
    limit = served.model.manifest.preprocessing.get("max_seconds_sync")
    if limit is not None and seconds > float(limit):
        raise PayloadTooLarge(
            f"the audio is {seconds} s long; a request transcribes at most {float(limit):g} s "
            "(send longer audio as a batch job)",
            param="file",
        )
