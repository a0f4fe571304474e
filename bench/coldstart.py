"""One cold start, run in a fresh process: imports, model load, first prediction.

Usage (run by bench/run.py): python coldstart.py {runtime|handler} EVENT_JSON
Prints one JSON line with the phases (ms) and the peak RSS (MB) of this process.
"""

from __future__ import annotations

import json
import resource
import sys
import time

START = time.perf_counter()


def runtime_path() -> dict[str, float]:
    """The runtime alone: import, open the session, embed one text."""
    import os  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from aiaas_runtime import ModelRegistry  # noqa: PLC0415

    imported = time.perf_counter()
    model = ModelRegistry(Path(os.environ["AIAAS_MODELS_DIR"])).get("all-minilm-l6-v2")
    loaded = time.perf_counter()
    model.predict(["hello world"])
    done = time.perf_counter()
    return {"import_ms": imported - START, "load_ms": loaded - imported,
            "first_prediction_ms": done - loaded, "total_ms": done - START}  # fmt: skip


def handler_path(event_file: str) -> dict[str, float]:
    """The deployed handler: import app.py (FastAPI, Mangum), then one API Gateway event."""
    import app  # type: ignore[import-not-found]  # noqa: PLC0415 - functions/predict on the path

    imported = time.perf_counter()
    with open(event_file) as handle:  # noqa: PTH123
        event = json.load(handle)
    response = app.handler(event, None)
    assert response["statusCode"] == 200, response
    done = time.perf_counter()
    return {"import_ms": imported - START, "first_prediction_ms": done - imported,
            "total_ms": done - START}  # fmt: skip


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a
    child of a big parent would report the parent's size."""
    try:
        with open("/proc/self/status") as status:  # noqa: PTH123
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    phases = runtime_path() if sys.argv[1] == "runtime" else handler_path(sys.argv[2])
    result = {k: round(v * 1e3, 1) for k, v in phases.items()}
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))
