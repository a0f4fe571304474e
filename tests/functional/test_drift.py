"""Drift on moto: an owner sets a version's baseline (reference rows, or its first captured
rows), the drift job compares each new captured window with it, writes Model Monitor's
constraint_violations.json and a FeatureDrift EMF line, and flags the shifted feature only;
another tenant sees and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiaas.errors import InvalidInput, NotFound
from aiaas.repositories.drift import drift_prefix
from aiaas.repositories.models import DynamoCatalog
from aiaas.services import Services
from tests.aws import AwsResources
from tests.functional.test_capture import BOB, two_tenants
from tests.functional.test_explanations import ALICE, register_lr


@pytest.fixture
def services(aws: AwsResources, models_dir: Path, tmp_path: Path) -> Services:
    return two_tenants(aws, models_dir, tmp_path, capture_max_records=10_000, drift_settle_s=0)


def predict_all(services: Services, name: str, rows: np.ndarray) -> None:
    for start in range(0, len(rows), 20):
        services.predictions.predict(ALICE, name, rows[start : start + 20].tolist())
    services.capture.flush()


def emf_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_the_shifted_feature_is_flagged_and_a_baseline_window_is_not(
    aws: AwsResources, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    _, x = register_lr(aws, services, "wine-drift", 4)
    services.catalog.set_capture(ALICE, "wine-drift", 1, 100)
    # Given the training rows as the baseline
    updated = services.drift.set_baseline(ALICE, "wine-drift", 1, rows=x.tolist())
    assert updated.public()["baseline"] == {"rows": 178, "source": "upload"}
    rng = np.random.default_rng(7)
    # When the captured traffic has its first feature (alcohol) shifted up by 2
    shifted = x[rng.choice(len(x), 120)].copy()
    shifted[:, 0] += 2.0
    predict_all(services, "wine-drift", shifted)
    capsys.readouterr()
    outcome = services.drift_monitor.run()
    # Then the report flags that feature only
    assert outcome == {"checked": 1, "reported": 1, "drifted": ["wine-drift/1"], "failed": 0}
    (report,) = [r["report"] for r in services.drift.reports(ALICE, "wine-drift")]
    assert report["rows"] == 120 and report["drifted"] == ["x0"]
    assert [v["feature_name"] for v in report["violations"]["violations"]] == ["x0"]
    first = {f["name"]: f for f in report["features"]}
    assert first["x0"]["psi"] > 1 and first["x0"]["ks"]["p_value"] < 1e-6
    assert all(first[n]["psi"] < 0.1 for n in ("x1", "x2", "x3"))
    (line,) = [d for d in emf_lines(capsys.readouterr().out) if "FeatureDrift" in d]
    assert line["FeatureDrift"] == 1 and line["model"] == "wine-drift" and line["route"] == "drift"
    assert ["route"] in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    # and the run's constraint_violations.json is in the version's drift folder
    s3 = aws.client("s3")
    prefix = drift_prefix(ALICE.tenant, "wine-drift", 1)
    keys = sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=aws.weights_bucket, Prefix=prefix)["Contents"]
    )
    assert [k.rsplit("/", 1)[-1] for k in keys] == [
        "constraint_violations.json", "statistics.json", "latest.json"
    ]  # fmt: skip
    stored = json.loads(s3.get_object(Bucket=aws.weights_bucket, Key=keys[0])["Body"].read())
    assert stored == report["violations"]
    # When the next window is drawn from the baseline's own rows
    predict_all(services, "wine-drift", x[rng.choice(len(x), 120)])
    assert services.drift_monitor.run()["drifted"] == []
    (second,) = [r["report"] for r in services.drift.reports(ALICE, "wine-drift")]
    # Then it covers only the new captures, and nothing drifted
    assert second["window"]["start"] == report["window"]["end"]
    assert second["rows"] == 120 and second["drifted"] == []
    assert second["violations"] == {"violations": []}
    # and a run with nothing new writes nothing
    assert services.drift_monitor.run()["reported"] == 0


def test_a_baseline_from_the_first_captured_rows_and_their_answers(
    aws: AwsResources, services: Services
) -> None:
    _, x = register_lr(aws, services, "wine-first", 3)
    services.catalog.set_capture(ALICE, "wine-first", 1, 100)
    with pytest.raises(InvalidInput, match="no captured rows"):
        services.drift.set_baseline(ALICE, "wine-first", 1, from_captures=50)
    predict_all(services, "wine-first", x[:100])
    updated = services.drift.set_baseline(ALICE, "wine-first", 1, from_captures=50)
    assert updated.public()["baseline"] == {"rows": 50, "source": "captures"}
    baseline = json.loads(
        aws.client("s3")
        .get_object(Bucket=aws.weights_bucket, Key=f"{ALICE.tenant}/wine-first/1/baseline.json")[
            "Body"
        ]
        .read()
    )
    assert baseline["rows"] == 50 and [c["name"] for c in baseline["columns"]] == ["x0", "x1", "x2"]
    assert sum(baseline["prediction"]["frequencies"].values()) == 50


def test_bad_baselines_are_refused(aws: AwsResources, services: Services) -> None:
    register_lr(aws, services, "wine-bad", 2)
    with pytest.raises(InvalidInput, match="not both"):
        services.drift.set_baseline(ALICE, "wine-bad", 1)
    with pytest.raises(InvalidInput, match="not both"):
        services.drift.set_baseline(ALICE, "wine-bad", 1, rows=[[1, 2]], from_captures=5)
    with pytest.raises(InvalidInput, match="arrays or objects"):
        services.drift.set_baseline(ALICE, "wine-bad", 1, rows=[[1, 2], 3])
    with pytest.raises(InvalidInput, match="from_captures"):
        services.drift.set_baseline(ALICE, "wine-bad", 1, from_captures=0)


def test_another_tenant_sees_and_sets_nothing(aws: AwsResources, services: Services) -> None:
    _, x = register_lr(aws, services, "wine-own", 2)
    with pytest.raises(NotFound):
        services.drift.set_baseline(BOB, "wine-own", 1, rows=x.tolist())
    with pytest.raises(NotFound):
        services.drift.reports(BOB, "wine-own")
    assert services.drift.reports(ALICE, "wine-own") == [
        {"version": 1, "capture": None, "baseline": None, "report": None}
    ]


def test_only_versions_capturing_are_scanned(aws: AwsResources, services: Services) -> None:
    register_lr(aws, services, "wine-scan", 2)
    store = DynamoCatalog(aws.client("dynamodb"), aws.models_table)
    assert [v.name for v in store.captured_versions()] == []
    services.catalog.set_capture(ALICE, "wine-scan", 1, 10)
    assert [(v.name, v.version) for v in store.captured_versions()] == [("wine-scan", 1)]
    services.catalog.set_capture(ALICE, "wine-scan", 1, 0)
    assert store.captured_versions() == []
    assert services.drift_monitor.run() == {"checked": 0, "reported": 0, "drifted": [],
                                            "failed": 0}  # fmt: skip
