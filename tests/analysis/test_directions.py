"""Which way a metric is better: recorded from the Keras metric at training time, the name rule
kept for runs written before dlrun recorded it."""

from __future__ import annotations

from dlrun.analysis.compare import comparison_grid, select
from dlrun.analysis.diff import diff_runs
from dlrun.analysis.directions import better_direction
from dlrun.runs import read_run
from tests.runs.run_folders import write_run


def test_a_recorded_direction_wins_over_the_name():
    # 'score' says nothing by its name; a custom metric recorded as lower-is-better ranks so.
    assert better_direction("test_score") is None
    assert better_direction("test_score", {"score": "lower"}) == "min"
    assert better_direction("val_score", {"score": "higher"}) == "max"
    # A name the rule knows, recorded the other way (a metric named against the rule).
    assert better_direction("test_error_rate", {"error_rate": "higher"}) == "max"


def test_runs_written_before_recording_fall_back_to_the_name():
    assert better_direction("test_mae", {}) == "min"
    assert better_direction("test_accuracy") == "max"
    assert better_direction("epochs_run") is None


def test_compare_marks_the_best_value_by_the_recorded_direction(tmp_path):
    directions = {"loss": "lower", "score": "lower"}
    paths = [
        write_run(tmp_path, index=i, metrics={"test_score": v, "metric_directions": directions})
        for i, v in enumerate([0.3, 0.1, 0.2])
    ]
    selection = select([read_run(p) for p in paths], metrics=["test_score"])
    grid = comparison_grid(selection)
    best = [
        row[grid.columns.index("test_score")]
        for i, row in enumerate(grid.rows)
        if grid.is_best("test_score", i)
    ]
    assert best == [0.1]


def test_diff_says_better_or_worse_by_the_recorded_direction(tmp_path):
    directions = {"score": "higher"}
    a = write_run(tmp_path, index=0, metrics={"test_score": 0.5, "metric_directions": directions})
    b = write_run(tmp_path, index=1, metrics={"test_score": 0.7, "metric_directions": directions})
    change = next(m for m in diff_runs(read_run(a), read_run(b)).metrics if m.name == "test_score")
    assert change.verdict == "better"
