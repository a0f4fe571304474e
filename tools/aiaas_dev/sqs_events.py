"""SQS event sources: the functions' ``Type: SQS`` events (Lambda event source mappings).

SAM turns ``Events: {X: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn, BatchSize: ...}}}``
into an event source mapping on queue ``Q``. Locally the queue must be defined in the same
template (moto creates it); `aiaas_dev.sqs_poller` polls it and invokes the function. The
checks Lambda makes when the mapping is created are made here, so a template the deployment
would refuse fails locally too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiaas_dev.cfn import Resolver, TemplateError
from aiaas_dev.resources import FIFO_SUFFIX, QUEUE_TYPE
from aiaas_dev.s3_events import events_of_type

logger = logging.getLogger(__name__)

SQS_EVENT_TYPE = "SQS"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 10_000  # a standard queue with a batching window of at least 1 s
MAX_UNWINDOWED_BATCH_SIZE = 10  # FIFO queues, and standard queues without a window
MAX_BATCHING_WINDOW_S = 300
DEFAULT_VISIBILITY_TIMEOUT_S = 30  # SQS's default
_KNOWN = frozenset(
    {"Queue", "BatchSize", "MaximumBatchingWindowInSeconds", "FunctionResponseTypes", "Enabled"}
)
_IGNORED = frozenset({"ScalingConfig", "MetricsConfig", "KmsKeyArn"})  # change nothing locally


@dataclass(frozen=True)
class SQSEventSource:
    """One function's SQS event source, values resolved.

    Attributes:
        function: The function's logical ID.
        name: The event's name under ``Events``.
        queue_id: The queue's logical ID.
        queue_name: The queue's local name.
        queue_arn: The queue's ARN (``eventSourceARN`` in the records).
        batch_size: Most messages per invocation.
        batching_window_s: How long to gather messages for a fuller batch.
        report_batch_item_failures: ``FunctionResponseTypes: [ReportBatchItemFailures]``.
        enabled: ``Enabled`` (a disabled source is not polled).
    """

    function: str
    name: str
    queue_id: str
    queue_name: str
    queue_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batching_window_s: int = 0
    report_batch_item_failures: bool = False
    enabled: bool = True

    @property
    def fifo(self) -> bool:
        """Whether the queue is a FIFO queue."""
        return self.queue_name.endswith(FIFO_SUFFIX)

    def describe(self) -> str:
        """One line for the start banner: function, queue, batching, response type."""
        notes = [f"batch {self.batch_size}"]
        if self.batching_window_s:
            notes.append(f"window {self.batching_window_s} s")
        if self.report_batch_item_failures:
            notes.append(REPORT_BATCH_ITEM_FAILURES)
        if not self.enabled:
            notes.append("disabled")
        return f"{self.function:<24} {self.queue_name}  ({', '.join(notes)})"


def sqs_event_sources(
    document: Mapping[str, Any],
    function_properties: Mapping[str, Mapping[str, Any]],
    resolver: Resolver,
    function_timeouts: Mapping[str, float],
) -> tuple[SQSEventSource, ...]:
    """Collect the functions' SQS event sources.

    Args:
        document: The template.
        function_properties: The properties of the functions that run locally.
        resolver: Resolves intrinsics (a queue's ``Fn::GetAtt ... Arn`` gives its ARN).
        function_timeouts: Each function's ``Timeout``, by logical ID.

    Returns:
        The event sources, in template order.

    Raises:
        TemplateError: ``Queue`` is not ``!GetAtt <queue>.Arn`` of a queue of the template,
            or Lambda would refuse the mapping: ``BatchSize`` or the batching window out of
            range, an unknown response type, or a queue visibility timeout shorter than the
            function's timeout.
    """
    resources: Mapping[str, Any] = document.get("Resources") or {}
    sources: list[SQSEventSource] = []
    for function, name, properties in events_of_type(function_properties, SQS_EVENT_TYPE):
        source = _source(function, name, properties, resources, resolver)
        queue = resources[source.queue_id].get("Properties") or {}
        _check_visibility(source, queue, resolver, function_timeouts[function])
        sources.append(source)
    return tuple(sources)


def _source(
    function: str,
    name: str,
    props: Mapping[str, Any],
    resources: Mapping[str, Any],
    resolver: Resolver,
) -> SQSEventSource:
    where = f"{function} event {name}"
    queue_id = _queue_id(where, props.get("Queue"), resources)
    for key in props.keys() - _KNOWN - _IGNORED:
        logger.warning("%s: %s is not applied locally", where, key)
    source = SQSEventSource(
        function=function,
        name=name,
        queue_id=queue_id,
        queue_name=resolver.resolve_str({"Fn::GetAtt": [queue_id, "QueueName"]}),
        queue_arn=resolver.resolve_str({"Fn::GetAtt": [queue_id, "Arn"]}),
        batch_size=_integer(where, "BatchSize", props, resolver, DEFAULT_BATCH_SIZE),
        batching_window_s=_integer(where, "MaximumBatchingWindowInSeconds", props, resolver, 0),
        report_batch_item_failures=_reports_failures(where, props, resolver),
        enabled=resolver.resolve_str(props.get("Enabled", True)).lower() == "true",
    )
    _check_batching(where, source)
    return source


def _queue_id(where: str, queue: Any, resources: Mapping[str, Any]) -> str:
    """The logical ID in ``Queue: !GetAtt <id>.Arn``, checked to be a queue of the template."""
    target = queue.get("Fn::GetAtt") if isinstance(queue, dict) else None
    if isinstance(target, str):  # the long form's "Logical.Attribute"
        target = target.split(".", 1)
    if (
        not isinstance(target, list)
        or len(target) != 2
        or target[1] != "Arn"
        or (resources.get(target[0]) or {}).get("Type") != QUEUE_TYPE
    ):
        raise TemplateError(
            f"{where}: Queue must be !GetAtt <queue>.Arn of an {QUEUE_TYPE} of this template"
        )
    return str(target[0])


def _integer(
    where: str,
    key: str,
    props: Mapping[str, Any],
    resolver: Resolver,
    default: int,
    *,
    owner: str = "",
) -> int:
    text = resolver.resolve_str(props.get(key, default))
    try:
        return int(text)
    except ValueError:
        raise TemplateError(f"{where}: {owner}{key} must be an integer, got {text!r}") from None


def _reports_failures(where: str, props: Mapping[str, Any], resolver: Resolver) -> bool:
    types = resolver.resolve(props.get("FunctionResponseTypes") or [])
    if not isinstance(types, list) or any(kind != REPORT_BATCH_ITEM_FAILURES for kind in types):
        raise TemplateError(
            f"{where}: FunctionResponseTypes may only hold {REPORT_BATCH_ITEM_FAILURES}"
        )
    return bool(types)


def _check_batching(where: str, source: SQSEventSource) -> None:
    """Lambda's limits on ``BatchSize`` and ``MaximumBatchingWindowInSeconds``."""
    window = source.batching_window_s
    if not 0 <= window <= MAX_BATCHING_WINDOW_S:
        raise TemplateError(
            f"{where}: MaximumBatchingWindowInSeconds must be 0 to {MAX_BATCHING_WINDOW_S}"
        )
    if source.fifo and window:
        raise TemplateError(f"{where}: a FIFO queue takes no MaximumBatchingWindowInSeconds")
    limit = MAX_BATCH_SIZE if window else MAX_UNWINDOWED_BATCH_SIZE
    if not 1 <= source.batch_size <= limit:
        detail = "" if window else " without MaximumBatchingWindowInSeconds"
        raise TemplateError(f"{where}: BatchSize must be 1 to {limit}{detail}")


def _check_visibility(
    source: SQSEventSource, queue: Mapping[str, Any], resolver: Resolver, timeout_s: float
) -> None:
    """Lambda refuses a queue whose visibility timeout is shorter than the function's timeout."""
    where = f"{source.function} event {source.name}"
    visibility_s = _integer(
        where,
        "VisibilityTimeout",
        queue,
        resolver,
        DEFAULT_VISIBILITY_TIMEOUT_S,
        owner="the queue's ",
    )
    if visibility_s < timeout_s:
        raise TemplateError(
            f"{where}: the queue's VisibilityTimeout ({visibility_s} s) is shorter than the "
            f"function's Timeout ({timeout_s:g} s); Lambda refuses that event source"
        )
