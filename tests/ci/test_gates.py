"""`dlrun.ci.gates`: gates on one run, and the per-metric decision of a baseline check."""

from __future__ import annotations

import math

import pytest

from dlrun.ci.checks import (
    CheckSettings,
    Samples,
    check_metric,
    chosen_metrics,
    comparability_notes,
    parse_tolerances,
    run_check,
)
from dlrun.ci.gates import Gate, GateError, GateResult, evaluate_gates, parse_gates

METRICS = {"test_accuracy": 0.91, "test_loss": 0.3, "baseline": "majority class", "epochs_run": 3}


# Gates


def test_gates_read_metric_equals_number_in_flag_order():
    gates = parse_gates(["test_accuracy=0.9"], ["test_loss=0.4", "train_time_s=1e3"])
    assert gates == [
        Gate("test_accuracy", 0.9, "under"),
        Gate("test_loss", 0.4, "over"),
        Gate("train_time_s", 1000.0, "over"),
    ]


@pytest.mark.parametrize("text", ["test_accuracy", "=0.9", "test_accuracy=high", "x=nan"])
def test_a_malformed_gate_names_the_flag_and_the_expected_form(text):
    with pytest.raises(GateError) as caught:
        parse_gates([text])
    assert "--fail-under" in str(caught.value)
    assert "METRIC=NUMBER" in str(caught.value)


def test_a_gate_passes_at_its_threshold_and_fails_beyond_it():
    under, over = Gate("test_accuracy", 0.9, "under"), Gate("test_loss", 0.4, "over")
    assert GateResult(under, 0.9).passed and GateResult(over, 0.4).passed
    assert not GateResult(under, 0.8999).passed
    assert not GateResult(over, 0.4001).passed
    assert not GateResult(over, math.nan).passed  # a NaN passes no gate


def test_a_failed_gate_message_names_metric_value_and_threshold():
    [result] = evaluate_gates(parse_gates(["test_accuracy=0.95"]), METRICS)
    assert not result.passed
    assert result.message == (
        "test_accuracy = 0.91 is under 0.95 (--fail-under test_accuracy=0.95)"
    )


def test_a_gate_on_a_metric_the_run_lacks_suggests_the_closest_name():
    with pytest.raises(GateError) as caught:
        evaluate_gates(parse_gates(["test_acuracy=0.9"]), METRICS)
    assert "no metric 'test_acuracy'. Did you mean 'test_accuracy'?" in str(caught.value)
    with pytest.raises(GateError, match="no number for 'baseline'"):
        evaluate_gates(parse_gates(["baseline=0.5"]), METRICS)


# Tolerances


def test_tolerance_is_one_number_for_all_and_metric_equals_number_for_one():
    assert parse_tolerances([]) == (0.0, {})
    assert parse_tolerances(["0.01", "test_mae=0.02"]) == (0.01, {"test_mae": 0.02})
    with pytest.raises(GateError, match="two tolerances"):
        parse_tolerances(["0.01", "0.02"])
    with pytest.raises(GateError, match="negative"):
        parse_tolerances(["test_mae=-0.1"])


# One metric's verdict


def test_identical_values_are_the_same_and_pass():
    result = check_metric("test_accuracy", "higher", [0.9], [0.9])
    assert (result.verdict, result.passed, result.delta) == ("same", True, 0.0)


def test_a_worsening_equal_to_the_tolerance_is_within_it_despite_float_rounding():
    # 0.90 - 0.89 is 0.010000000000000009 in floating point
    result = check_metric("test_accuracy", "higher", [0.90], [0.89], tolerance=0.01)
    assert result.verdict == "within tolerance" and result.passed


def test_a_worsening_beyond_the_tolerance_regresses_in_either_direction():
    accuracy = check_metric("test_accuracy", "higher", [0.90], [0.88], tolerance=0.01)
    loss = check_metric("test_loss", "lower", [0.30], [0.32], tolerance=0.01)
    assert accuracy.verdict == loss.verdict == "regressed"
    assert "tolerance 0.01, higher is better" in accuracy.message
    # the same changes the other way round are improvements
    assert check_metric("test_loss", "lower", [0.32], [0.30]).verdict == "better"


def test_relative_tolerance_is_a_fraction_of_the_baseline():
    within = check_metric("test_mae", "lower", [0.50], [0.52], tolerance=0.05, relative=True)
    beyond = check_metric("test_mae", "lower", [0.50], [0.53], tolerance=0.05, relative=True)
    assert within.tolerance == pytest.approx(0.025)
    assert (within.verdict, beyond.verdict) == ("within tolerance", "regressed")


def test_seed_noise_beyond_the_tolerance_is_not_significant():
    baseline = [0.80, 0.85, 0.78, 0.83]  # mean 0.815
    run = [0.79, 0.84, 0.77, 0.80]  # mean 0.80: worse by 0.015, well within the seeds' spread
    result = check_metric("test_accuracy", "higher", baseline, run, tolerance=0.005)
    assert result.beyond_tolerance
    assert result.p_value > 0.05
    assert (result.verdict, result.passed) == ("not significant", True)


def test_a_real_difference_over_seeds_regresses():
    result = check_metric(
        "test_accuracy", "higher", [0.90, 0.91, 0.905], [0.85, 0.86, 0.855], tolerance=0.01
    )
    assert result.p_value < 0.001
    assert result.verdict == "regressed"
    assert "Welch's t-test p = " in result.message and "n = 3 vs 3" in result.message


def test_significant_but_within_tolerance_passes():
    result = check_metric(
        "test_accuracy", "higher", [0.900, 0.901, 0.902], [0.895, 0.896, 0.897], tolerance=0.01
    )
    assert result.p_value < 0.05
    assert result.verdict == "within tolerance"


def test_seeds_without_any_spread_still_decide():
    assert check_metric("test_loss", "lower", [0.3, 0.3], [0.4, 0.4]).p_value == 0.0
    assert check_metric("test_loss", "lower", [0.3, 0.3], [0.3, 0.3]).verdict == "same"


def test_one_sample_on_either_side_means_tolerance_only():
    result = check_metric("test_accuracy", "higher", [0.90], [0.85, 0.86, 0.87], tolerance=0.01)
    assert result.p_value is None and result.verdict == "regressed"


# Which metrics a check compares


def samples(label: str, **metrics: list[float]) -> Samples:
    return Samples(label, dict(metrics))


BASELINE = samples(
    "baseline.json",
    test_accuracy=[0.9],
    test_loss=[0.3],
    test_examples=[500.0],  # no direction: not compared by default
    baseline_test_accuracy=[0.5],
    val_accuracy=[0.92],
)


def test_by_default_the_baselines_test_metrics_with_a_direction_are_checked():
    run = samples("run", test_accuracy=[0.9], test_loss=[0.3], test_examples=[500.0])
    assert chosen_metrics(BASELINE, run, CheckSettings()) == ["test_accuracy", "test_loss"]


def test_a_metric_the_baseline_checks_but_the_run_lacks_is_bad_input():
    run = samples("run", test_acc=[0.9], test_loss=[0.3])
    with pytest.raises(GateError) as caught:
        run_check(BASELINE, run, CheckSettings())
    assert "run: no metric 'test_accuracy'" in str(caught.value)
    assert "Did you mean 'test_acc'?" in str(caught.value)


def test_named_metrics_take_patterns_and_need_a_known_direction():
    run = samples("run", val_accuracy=[0.9], test_examples=[480.0])
    assert chosen_metrics(BASELINE, run, CheckSettings(metrics=["val_*"])) == ["val_accuracy"]
    with pytest.raises(GateError, match="higher or lower is better"):
        chosen_metrics(BASELINE, run, CheckSettings(metrics=["test_examples"]))
    settings = CheckSettings(metrics=["test_examples"], higher=["test_examples"])
    [result] = run_check(BASELINE, run, settings)
    assert (result.direction, result.verdict) == ("higher", "regressed")
    with pytest.raises(GateError, match="no metric 'test_acuracy'"):
        chosen_metrics(BASELINE, run, CheckSettings(metrics=["test_acuracy"]))


def test_a_per_metric_tolerance_must_name_a_checked_metric():
    run = samples("run", test_accuracy=[0.9], test_loss=[0.3])
    with pytest.raises(GateError, match="not among the metrics checked"):
        run_check(BASELINE, run, CheckSettings(per_metric={"test_mae": 0.1}))


def test_per_metric_tolerance_overrides_the_one_for_all():
    run = samples("run", test_accuracy=[0.88], test_loss=[0.33])
    settings = CheckSettings(tolerance=0.01, per_metric={"test_loss": 0.05})
    verdicts = {r.metric: r.verdict for r in run_check(BASELINE, run, settings)}
    assert verdicts == {"test_accuracy": "regressed", "test_loss": "within tolerance"}


def test_single_runs_on_different_test_sets_are_flagged():
    a, b = samples("a"), samples("b")
    a.test_fingerprints, b.test_fingerprints = {"aaa"}, {"bbb"}
    assert "different test sets" in comparability_notes(a, b)[0]
    b.test_fingerprints = {"aaa"}
    assert comparability_notes(a, b) == []
