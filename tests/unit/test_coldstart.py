"""The init phase: no garbage collection while a function imports, its objects frozen after."""

from __future__ import annotations

import gc

import pytest

from aiaas.coldstart import init_phase


@pytest.fixture(autouse=True)
def _unfrozen() -> object:
    yield
    gc.unfreeze()
    gc.enable()


def test_the_collector_is_off_inside_and_back_on_after_with_the_init_frozen() -> None:
    frozen_before = gc.get_freeze_count()
    with init_phase():
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]  # containers the collector tracks
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(made)


def test_a_failing_init_still_turns_the_collector_back_on() -> None:
    with pytest.raises(RuntimeError), init_phase():
        raise RuntimeError("bad setting")
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    with init_phase():
        pass
    assert not gc.isenabled()
