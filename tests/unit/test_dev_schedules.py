"""Schedules in the local stack: rate and cron events parsed from a template, run on their
rate or on demand through the stack's own route, with EventBridge's scheduled event."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from aiaas_dev.cfn import Resolver, TemplateError
from aiaas_dev.routes import RouteTable
from aiaas_dev.schedules import DEV_PATH, Scheduler, ScheduleSource, schedule_sources
from aiaas_dev.server import Gateway, HttpRequest
from aiaas_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def sources(*expressions: str) -> tuple[ScheduleSource, ...]:
    properties = {
        f"Fn{i}": {"Events": {"Tick": {"Type": "Schedule", "Properties": {"Schedule": e}}}}
        for i, e in enumerate(expressions)
    }
    return schedule_sources(properties, Resolver({}))


def test_rates_and_crons_are_parsed() -> None:
    rate, hours, cron = sources("rate(1 hour)", "rate(5 minutes)", "cron(0 12 * * ? *)")
    assert (rate.function, rate.name, rate.period_s) == ("Fn0", "Tick", 3600)
    assert hours.period_s == 300
    assert cron.period_s is None and "on demand" in cron.describe()


@pytest.mark.parametrize("bad", ["rate(1 hours)", "rate(2 hour)", "every hour", "rate(0 days)"])
def test_what_eventbridge_refuses_is_refused(bad: str) -> None:
    with pytest.raises(TemplateError):
        sources(bad)


def test_the_repository_template_schedules_the_drift_job() -> None:
    template = load_template(ROOT / "template.yaml")
    (drift,) = template.schedules
    assert (drift.function, drift.period_s) == ("DriftFunction", 3600)
    fast = load_template(ROOT / "template.yaml", parameters={"DriftSchedule": "rate(2 minutes)"})
    assert fast.schedules[0].period_s == 120


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.called = threading.Event()

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        self.events.append(event)
        self.called.set()
        return {"checked": len(self.events)}


def test_on_demand_through_the_stacks_route() -> None:
    worker = Recorder()
    scheduler = Scheduler(sources("rate(1 day)"), {"Fn0": worker}, on_demand_only=True)
    gateway = Gateway(RouteTable((), "$default"), {"Fn0": worker}, scheduler=scheduler)

    def request(method: str, target: str) -> Any:
        return gateway.handle(HttpRequest(method, target, [], b"", "127.0.0.1", 3000))

    answer = request("POST", DEV_PATH + "Fn0")
    assert answer.status == 200 and b'"checked": 1' in answer.body
    (event,) = worker.events
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"][0].endswith(":rule/Fn0-Tick")
    assert request("POST", DEV_PATH + "Nope").status == 404
    assert request("GET", DEV_PATH + "Fn0").status == 405


def test_a_rate_runs_on_its_period() -> None:
    worker = Recorder()
    source = ScheduleSource("Fn0", "Tick", "rate(1 minute)", 0.05)
    scheduler = Scheduler((source,), {"Fn0": worker})
    scheduler.start()
    try:
        assert worker.called.wait(5)
    finally:
        scheduler.stop()
    assert worker.events[0]["detail-type"] == "Scheduled Event"
