"""S3 event sources: the functions' ``Type: S3`` events and the bucket notifications they make.

SAM turns ``Events: {X: {Type: S3, Properties: {Bucket: !Ref B, Events: ..., Filter: ...}}}``
into a Lambda notification on bucket ``B`` (which must be defined in the same template). The
local stack sends each event source's notifications to an SQS queue in moto instead and
invokes the function from there (`aiaas_dev.s3_poller`); the configuration built here is
what it puts on the bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from aiaas_dev.cfn import Resolver, TemplateError
from aiaas_dev.resources import BUCKET_TYPE, STACK_NAME

S3_EVENT_TYPE = "S3"
FILTER_NAMES = ("prefix", "suffix")
MAX_QUEUE_NAME = 80


@dataclass(frozen=True)
class S3EventSource:
    """One function's S3 event source, values resolved.

    Attributes:
        function: The function's logical ID.
        name: The event's name under ``Events``.
        bucket_id: The bucket's logical ID.
        bucket: The bucket's local name.
        events: Event types (``s3:ObjectCreated:*``).
        rules: Key filter rules, ``(name, value)`` with the name lower case.
    """

    function: str
    name: str
    bucket_id: str
    bucket: str
    events: tuple[str, ...]
    rules: tuple[tuple[str, str], ...] = ()

    @property
    def configuration_id(self) -> str:
        """The notification's ``Id`` (``configurationId`` in the events)."""
        return f"{self.function}-{self.name}"

    @property
    def queue_name(self) -> str:
        """The local SQS queue that stands in for the Lambda notification."""
        return f"{STACK_NAME}-{self.function}-{self.name}"[:MAX_QUEUE_NAME]

    def rule(self, name: str) -> str | None:
        """The value of the ``prefix`` or ``suffix`` rule, if there is one."""
        return next((value for key, value in self.rules if key == name), None)

    def describe(self) -> str:
        """One line for the start banner: function, bucket, events, filter."""
        rules = ", ".join(f"{key} {value}" for key, value in self.rules) or "all keys"
        return f"{self.function:<24} s3://{self.bucket}  {','.join(self.events)}  ({rules})"

    def matches(self, event_name: str, key: str) -> bool:
        """Whether S3 would notify this source of ``event_name`` on ``key``.

        Args:
            event_name: ``s3:ObjectCreated:Put`` or ``ObjectCreated:Put``.
            key: The object key, decoded.
        """
        name = event_name if event_name.startswith("s3:") else f"s3:{event_name}"
        wildcard = name.rpartition(":")[0] + ":*"
        prefix, suffix = self.rule("prefix") or "", self.rule("suffix") or ""
        return (
            any(event in {name, wildcard} for event in self.events)
            and key.startswith(prefix)
            and key.endswith(suffix)
        )


def events_of_type(
    function_properties: Mapping[str, Mapping[str, Any]], event_type: str
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(function, event name, properties)`` of every event of one ``Type``, in order.

    Args:
        function_properties: The properties of the functions that run locally.
        event_type: ``S3``, ``SQS``...
    """
    for function, props in function_properties.items():
        for name, event in (props.get("Events") or {}).items():
            if event.get("Type") == event_type:
                yield function, name, event.get("Properties") or {}


def s3_event_sources(
    document: Mapping[str, Any],
    function_properties: Mapping[str, Mapping[str, Any]],
    resolver: Resolver,
) -> tuple[S3EventSource, ...]:
    """Collect the functions' S3 event sources.

    Args:
        document: The template.
        function_properties: The properties of the functions that run locally.
        resolver: Resolves intrinsics (a bucket's ``Ref`` gives its local name).

    Returns:
        The event sources, in template order.

    Raises:
        TemplateError: ``Bucket`` is not a ``Ref`` to a bucket of the template, ``Events``
            is missing, a filter rule is not ``prefix``/``suffix``, or two sources on one
            bucket overlap (S3 refuses that configuration, so the deployment would fail).
    """
    resources: Mapping[str, Any] = document.get("Resources") or {}
    sources = [
        _source(function, name, properties, resources, resolver)
        for function, name, properties in events_of_type(function_properties, S3_EVENT_TYPE)
    ]
    _check_overlaps(sources)
    return tuple(sources)


def _source(
    function: str,
    name: str,
    props: Mapping[str, Any],
    resources: Mapping[str, Any],
    resolver: Resolver,
) -> S3EventSource:
    where = f"{function} event {name}"
    bucket = props.get("Bucket")
    bucket_id = bucket.get("Ref") if isinstance(bucket, dict) else None
    if not isinstance(bucket_id, str) or (resources.get(bucket_id) or {}).get("Type") != (
        BUCKET_TYPE
    ):
        raise TemplateError(f"{where}: Bucket must be !Ref to an {BUCKET_TYPE} of this template")
    events = resolver.resolve(props.get("Events"))
    events = [events] if isinstance(events, str) else events
    if not events or not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise TemplateError(f"{where}: Events must be an event type or a list of them")
    return S3EventSource(
        function=function,
        name=name,
        bucket_id=bucket_id,
        bucket=resolver.resolve_str(bucket),
        events=tuple(events),
        rules=_rules(where, resolver.resolve(props.get("Filter") or {})),
    )


def _rules(where: str, filter_: Any) -> tuple[tuple[str, str], ...]:
    """``Filter.S3Key.Rules`` as ``(name, value)`` pairs, names lower case (S3 ignores case)."""
    rules: list[tuple[str, str]] = []
    for rule in ((filter_ or {}).get("S3Key") or {}).get("Rules") or []:
        key = str(rule.get("Name", "")).lower()
        if key not in FILTER_NAMES or "Value" not in rule:
            raise TemplateError(f"{where}: filter rules are Name prefix|suffix with a Value")
        if any(key == seen for seen, _ in rules):
            raise TemplateError(f"{where}: more than one {key} rule")
        rules.append((key, str(rule["Value"])))
    return tuple(rules)


def _events_overlap(first: Iterable[str], second: Iterable[str]) -> bool:
    """Whether two event lists share a type (``s3:ObjectCreated:*`` covers ``...:Put``)."""
    pairs = [(a.rpartition(":"), b.rpartition(":")) for a in first for b in second]
    return any(a[0] == b[0] and (a[2] == b[2] or "*" in {a[2], b[2]}) for a, b in pairs)


def _check_overlaps(sources: list[S3EventSource]) -> None:
    for index, first in enumerate(sources):
        for second in sources[index + 1 :]:
            if first.bucket != second.bucket or not _events_overlap(first.events, second.events):
                continue
            prefixes = (first.rule("prefix") or "", second.rule("prefix") or "")
            suffixes = (first.rule("suffix") or "", second.rule("suffix") or "")
            if (prefixes[0].startswith(prefixes[1]) or prefixes[1].startswith(prefixes[0])) and (
                suffixes[0].endswith(suffixes[1]) or suffixes[1].endswith(suffixes[0])
            ):
                raise TemplateError(
                    f"{first.configuration_id} and {second.configuration_id} overlap on bucket "
                    f"{first.bucket_id}: S3 refuses overlapping notifications for one event type"
                )


def queue_configuration(source: S3EventSource, queue_arn: str) -> dict[str, Any]:
    """The ``QueueConfigurations`` entry that stands in for the source's Lambda notification.

    Args:
        source: The event source.
        queue_arn: Its local queue.

    Returns:
        ``{"Id", "QueueArn", "Events", "Filter"?}`` as ``PutBucketNotificationConfiguration``
        takes it.
    """
    configuration: dict[str, Any] = {
        "Id": source.configuration_id,
        "QueueArn": queue_arn,
        "Events": list(source.events),
    }
    if source.rules:
        rules = [{"Name": key, "Value": value} for key, value in source.rules]
        configuration["Filter"] = {"Key": {"FilterRules": rules}}
    return configuration


def notification_configuration(
    sources: Iterable[S3EventSource], queue_arns: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Each bucket's whole ``NotificationConfiguration`` (a put replaces the previous one).

    Args:
        sources: The event sources.
        queue_arns: Queue ARN by `S3EventSource.configuration_id`.

    Returns:
        ``{bucket name: {"QueueConfigurations": [...]}}``.
    """
    buckets: dict[str, dict[str, Any]] = {}
    for source in sources:
        configuration = buckets.setdefault(source.bucket, {"QueueConfigurations": []})
        arn = queue_arns[source.configuration_id]
        configuration["QueueConfigurations"].append(queue_configuration(source, arn))
    return buckets


def encode_key(key: str) -> str:
    """An object key as S3 writes it in events: ``quote_plus``, slashes kept."""
    return quote_plus(key, safe="/")


def decode_key(key: str) -> str:
    """An object key from an event, decoded (``unquote_plus``)."""
    return unquote_plus(key)
