"""A function's init phase without the cyclic garbage collector.

Importing FastAPI, pydantic, numpy and our own modules allocates a few hundred thousand
objects, and the collector walks them again and again while they arrive: about 140
collections, 35-45 ms of PredictFunction's ~450 ms of imports (measured with ``gc.callbacks``,
2 vCPUs). Nearly all of them live as long as the execution environment. So each function's
``app.py`` imports and builds inside `init_phase`: the collector is off, and at the end the
objects made so far are frozen (`gc.freeze`), so the collections during requests skip them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def init_phase() -> Iterator[None]:
    """Collector off for the block; then what it made is frozen and the collector is back on
    (also when the block raises: the init fails either way, and a test process goes on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
