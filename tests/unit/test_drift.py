"""Drift statistics against scipy's (the reference), and the decisions they lead to: a
shifted column is flagged, a window from the baseline's own distribution is not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from aiaas.domain import drift
from aiaas.domain.catalog_records import CatalogModel, ModelVersion
from aiaas.domain.monitoring import build_baseline, compare_window, rows_of

LIMITS = drift.Thresholds()


@pytest.mark.parametrize("dof", [1, 2, 3, 7, 20, 60])
def test_chi2_p_values_are_scipys(dof: int) -> None:
    for statistic in [0.01, 0.5, 1.0, 3.84, 10.0, 45.0, 150.0]:
        want = stats.chi2.sf(statistic, dof)
        assert drift.chi2_p_value(statistic, dof) == pytest.approx(want, rel=1e-6, abs=1e-12)


def test_chi2_homogeneity_is_scipys_contingency_test() -> None:
    reference = np.array([120.0, 60.0, 15.0, 0.0, 5.0])
    window = np.array([30.0, 40.0, 10.0, 0.0, 2.0])
    statistic, p_value = drift.chi2_homogeneity(reference, window)
    table = np.array([[120.0, 60.0, 15.0, 5.0], [30.0, 40.0, 10.0, 2.0]])  # the empty one out
    want = stats.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(want.statistic) and p_value == pytest.approx(want.pvalue)


def test_js_distance_is_scipys() -> None:
    p, q = np.array([10.0, 5.0, 1.0, 0.0]), np.array([2.0, 5.0, 5.0, 3.0])
    assert drift.js_distance(p, q) == pytest.approx(jensenshannon(p, q))


def test_ks_on_the_percentile_grid_is_within_a_percent_of_scipys() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(0, 1, 5000)
    profile = drift.number_profile("x", reference.tolist())
    for shift in (0.0, 0.2, 0.5):
        window = rng.normal(shift, 1, 400)
        want = stats.ks_2samp(reference, window, method="asymp")
        got = drift.ks_statistic(profile["percentiles"], window)
        assert abs(got - want.statistic) <= 0.011
        p_value = drift.kolmogorov_p_value(want.statistic, 400, 5000)
        assert p_value == pytest.approx(want.pvalue, rel=0.15, abs=1e-3)


def test_a_few_distinct_numbers_keep_their_exact_cdf() -> None:
    profile = drift.number_profile("visits", [0] * 60 + [1] * 30 + [2] * 10)
    assert drift.ks_statistic(profile["percentiles"], np.array([0.0] * 6 + [1.0] * 3 + [2.0])) == 0
    assert drift.psi(profile["percentiles"], np.array([0.0] * 6 + [1.0] * 3 + [2.0])) < 1e-9
    assert drift.ks_statistic(profile["percentiles"], np.array([2.0] * 10)) == pytest.approx(0.9)


def test_missing_cells_are_counted_not_tested() -> None:
    profile = drift.number_profile("age", [1.0, None, "x", 3.0, float("nan")])
    assert profile["count"] == 5 and profile["missing"] == 3 and profile["min"] == 1.0


def _null_and_shifted(seed: int) -> tuple[bool, bool]:
    rng = np.random.default_rng(seed)
    profile = drift.number_profile("income", rng.lognormal(10, 0.5, 2000).tolist())
    same = drift.compare_number(profile, rng.lognormal(10, 0.5, 300).tolist(), LIMITS)
    moved = drift.compare_number(profile, (rng.lognormal(10, 0.5, 300) * 1.6).tolist(), LIMITS)
    return same["drift"], moved["drift"]


def test_a_shift_is_flagged_and_the_baselines_own_distribution_is_not() -> None:
    outcomes = [_null_and_shifted(seed) for seed in range(40)]
    assert sum(same for same, _ in outcomes) <= 1  # false alarms: significance AND size
    assert all(moved for _, moved in outcomes)


def test_strings_new_values_and_shares() -> None:
    rng = np.random.default_rng(5)
    cities = ["lisbon", "porto", "faro", "braga"]
    profile = drift.string_profile("city", rng.choice(cities, 1000, p=[0.4, 0.3, 0.2, 0.1]))
    same = drift.compare_string(profile, rng.choice(cities, 300, p=[0.4, 0.3, 0.2, 0.1]), LIMITS)
    assert same["tested"] and not same["drift"]
    moved = drift.compare_string(profile, rng.choice(cities, 300, p=[0.1, 0.1, 0.2, 0.6]), LIMITS)
    assert moved["drift"] and moved["js_distance"] >= 0.1
    unseen = drift.compare_string(profile, ["madrid"] * 200 + ["porto"] * 100, LIMITS)
    assert unseen["drift"] and unseen["unseen_values"] == ["madrid"]


def test_too_few_rows_are_not_tested() -> None:
    profile = drift.number_profile("x", list(range(100)))
    result = drift.compare_number(profile, [500.0] * 10, LIMITS)
    assert result == {"name": "x", "type": "number", "rows": 10, "missing": 0, "drift": False,
                      "tested": False}  # fmt: skip


def test_violations_are_model_monitors_shape() -> None:
    rng = np.random.default_rng(1)
    profile = drift.number_profile("age", rng.normal(45, 12, 1000).tolist())
    found = drift.compare_number(profile, rng.normal(70, 12, 200).tolist(), LIMITS)
    document = drift.violations([found, {"name": "plan", "type": "string", "drift": False}])
    (violation,) = document["violations"]
    assert set(violation) == {"feature_name", "constraint_check_type", "description"}
    assert violation["feature_name"] == "age"
    assert violation["constraint_check_type"] == "baseline_drift_check"
    assert "PSI" in violation["description"]


MODEL = CatalogModel("t", "m", "tabular-classification", "", "private", "cpu", 0)
VERSION = ModelVersion("t", "m", 1, "READY", 0)


def test_a_tabular_baseline_from_rows_infers_column_types() -> None:
    rows = [{"age": 30 + i % 20, "plan": ["a", "b"][i % 2]} for i in range(100)]
    outputs = [{"label": "yes" if i % 3 else "no", "score": 0.9} for i in range(100)]
    baseline = build_baseline(MODEL, VERSION, rows, outputs)
    assert [(c["name"], c["type"]) for c in baseline["columns"]] == [
        ("age", "number"), ("plan", "string")
    ]  # fmt: skip
    assert baseline["prediction"]["frequencies"] == {"yes": 66, "no": 34}
    window = [[70 + i % 20, "a"] for i in range(50)]  # arrays, in column order
    features, prediction = compare_window(baseline, window, outputs[:50], LIMITS)
    assert [f["name"] for f in features if f["drift"]] == ["age", "plan"]
    assert prediction is not None and not prediction["drift"]


def test_text_features_length_unknown_words_and_output_centroid() -> None:
    rng = np.random.default_rng(0)
    words = ["good", "bad", "service", "food", "slow", "fast", "price", "staff"]
    texts = [" ".join(rng.choice(words, int(rng.integers(3, 9)))) for _ in range(300)]
    vectors = rng.normal(0, 1, (300, 8)) + 3
    outputs = [{"embedding": v.tolist()} for v in vectors]
    model = CatalogModel("t", "m", "embedding", "", "private", "cpu", 0)
    baseline = build_baseline(model, VERSION, texts, outputs)
    assert baseline["text"]["unknown_rate"] == 0 and len(baseline["output_centroid"]) == 8
    features, _ = compare_window(baseline, texts[:100], outputs[:100], LIMITS)
    assert [f["name"] for f in features] == ["input_length", "unknown_word_rate",
                                             "output_centroid"]  # fmt: skip
    assert not any(f["drift"] for f in features)
    foreign = ["das essen war kalt und teuer " * 4 for _ in range(100)]
    moved = [{"embedding": (-v).tolist()} for v in vectors[:100]]
    features, _ = compare_window(baseline, foreign, moved, LIMITS)
    assert [f["name"] for f in features if f["drift"]] == [
        "input_length", "unknown_word_rate", "output_centroid"
    ]  # fmt: skip


def test_rows_of_pairs_inputs_with_outputs_and_skips_tensor_records() -> None:
    records = [
        {"inputs": [[1, 2], [3, 4]], "outputs": [{"label": "a"}, {"label": "b"}]},
        {"inputs": {"x": [1]}, "outputs": {"y": [2]}},  # the Open Inference Protocol's
        {"inputs": ["hi"], "outputs": [{"embedding": [1.0]}]},
    ]
    rows, outputs = rows_of(records)
    assert rows == [[1, 2], [3, 4], "hi"] and len(outputs) == 3
    assert rows_of(records, limit=1) == ([[1, 2]], [{"label": "a"}])
