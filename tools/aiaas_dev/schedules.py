"""Scheduled functions: the functions' ``Type: Schedule`` events (EventBridge rules).

Locally a ``rate(N unit)`` schedule runs on its rate, in a thread per event, with the event
EventBridge sends (``"detail-type": "Scheduled Event"``), and every schedule can be run at
once: ``POST /_aiaas_dev/schedules/<FunctionLogicalId>`` on the local stack (what
``python -m aiaas_dev schedule <FunctionLogicalId>`` sends). A ``cron(...)`` schedule runs only
on demand: evaluating cron expressions is not worth its code here. ``serve --no-schedules``
leaves every schedule to on-demand runs (the tests' stacks do).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiaas_dev.cfn import Resolver, TemplateError
from aiaas_dev.s3_events import events_of_type

if TYPE_CHECKING:  # the invoker imports the template module, which imports this one
    from aiaas_dev.invoker import Invoker

logger = logging.getLogger(__name__)

SCHEDULE_EVENT_TYPE = "Schedule"
DEV_PATH = "/_aiaas_dev/schedules/"  # POST <DEV_PATH><FunctionLogicalId>: run it now
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class ScheduleSource:
    """One function's schedule.

    Attributes:
        function: The function's logical ID.
        name: The event's name under ``Events``.
        expression: ``rate(...)`` or ``cron(...)``.
        period_s: A rate's period; None for a cron expression.
        enabled: ``Enabled`` (a disabled schedule runs only on demand).
    """

    function: str
    name: str
    expression: str
    period_s: float | None
    enabled: bool = True

    def describe(self) -> str:
        """One line for the start banner."""
        when = self.expression if self.period_s is not None else f"{self.expression}: on demand"
        return f"{self.function:<24} {when}{'' if self.enabled else '  (disabled)'}"


def schedule_sources(
    function_properties: Mapping[str, Mapping[str, Any]], resolver: Resolver
) -> tuple[ScheduleSource, ...]:
    """The functions' ``Schedule`` events, in template order.

    Raises:
        TemplateError: A schedule is neither ``rate(...)`` nor ``cron(...)``, or a rate of
            1 names a plural unit (EventBridge refuses ``rate(1 hours)``).
    """
    sources = []
    for function, name, props in events_of_type(function_properties, SCHEDULE_EVENT_TYPE):
        expression = resolver.resolve_str(props.get("Schedule", "")).strip()
        enabled = resolver.resolve_str(props.get("Enabled", True)).lower() == "true"
        period = _period(function, name, expression)
        sources.append(ScheduleSource(function, name, expression, period, enabled))
    return tuple(sources)


def _period(function: str, name: str, expression: str) -> float | None:
    if expression.startswith("cron(") and expression.endswith(")"):
        return None
    match = _RATE.match(expression)
    if match is None:
        raise TemplateError(
            f"{function} event {name}: Schedule {expression!r} is not rate() or cron()"
        )
    value, unit = int(match.group(1)), match.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise TemplateError(
            f"{function} event {name}: {expression!r}: EventBridge takes rate(1 {unit.rstrip('s')})"
            f" and rate(N {unit.rstrip('s')}s)"
        )
    return float(value * _UNIT_S[unit.rstrip("s")])


def scheduled_event(source: ScheduleSource, region: str = "us-east-1") -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{source.function}-{source.name}"],
        "detail": {},
    }


class Scheduler:
    """Runs the schedules: rates on their period (unless ``on_demand_only``), any on demand."""

    def __init__(
        self,
        sources: tuple[ScheduleSource, ...],
        workers: Mapping[str, Invoker],
        *,
        on_demand_only: bool = False,
    ) -> None:
        self.sources = sources
        self.workers = workers
        self.on_demand_only = on_demand_only
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start a thread per enabled rate schedule (none with ``on_demand_only``)."""
        if self.on_demand_only:
            return
        for source in self.sources:
            if source.enabled and source.period_s is not None:
                thread = threading.Thread(
                    target=self._every, args=(source,), name=f"schedule-{source.function}",
                    daemon=True,
                )  # fmt: skip
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop after the current run."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    def run_now(self, function: str) -> Any:
        """Run a function's first schedule now, as EventBridge would; its result.

        Raises:
            KeyError: The function has no schedule.
        """
        source = next((s for s in self.sources if s.function == function), None)
        if source is None:
            raise KeyError(function)
        return self.workers[function].invoke(scheduled_event(source), str(uuid.uuid4()))

    def _every(self, source: ScheduleSource) -> None:
        period = float(source.period_s or 0)
        while not self._stopping.wait(period):
            try:
                self.workers[source.function].invoke(scheduled_event(source), str(uuid.uuid4()))
            except Exception:  # the worker logged it; the next period runs again
                logger.warning("scheduled run of %s failed", source.function)
