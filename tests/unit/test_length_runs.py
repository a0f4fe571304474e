"""Cutting a batch sorted by length into session runs (``aiaas_runtime.model.length_runs``)."""

from __future__ import annotations

import itertools
import random

import pytest

from aiaas_runtime.model import RUN_OVERHEAD, length_runs


def cost(lengths: list[int], ends: list[int], overhead: int) -> int:
    runs = zip([0, *ends[:-1]], ends, strict=True)
    return sum(overhead + (end - start) * lengths[end - 1] for start, end in runs)


def test_items_of_one_length_run_in_full_batches() -> None:
    assert length_runs([1] * 70, 32) == [32, 64, 70]
    assert length_runs([5], 32) == [1]
    assert length_runs([], 32) == []


def test_a_jump_in_length_starts_a_new_run() -> None:
    # the bench's 32 texts: 10 short ones and 22 of 21-25 tokens
    lengths = [11, 13, 13, 13, 13, 13, 14, 14, 15, 16, *[21] * 11, *[22] * 6, 23, 23, 24, 25, 25]
    assert length_runs(lengths, 32) == [8, 27, 32]
    assert cost(lengths, [8, 27, 32], RUN_OVERHEAD) < cost(lengths, [32], RUN_OVERHEAD)


@pytest.mark.parametrize("seed", range(20))
def test_the_cuts_are_the_cheapest_and_runs_stay_under_the_cap(seed: int) -> None:
    rng = random.Random(seed)
    lengths = sorted(rng.randint(1, 60) for _ in range(rng.randint(1, 9)))
    max_rows = rng.randint(1, 4)
    ends = length_runs(lengths, max_rows, overhead=10)
    assert ends[-1] == len(lengths)
    assert all(b - a <= max_rows for a, b in zip([0, *ends], ends, strict=False))
    every = (
        [*cuts, len(lengths)]
        for k in range(len(lengths))
        for cuts in itertools.combinations(range(1, len(lengths)), k)
        if all(b - a <= max_rows for a, b in zip([0, *cuts], [*cuts, len(lengths)], strict=True))
    )
    assert cost(lengths, ends, 10) == min(cost(lengths, list(c), 10) for c in every)
