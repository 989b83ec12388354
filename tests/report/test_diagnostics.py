"""Test-set diagnostics: hand-worked numbers, readable charts, and what `train` writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlrun.report.diagnostics import (
    CONFUSION_PLOT,
    FORECAST_PLOT,
    PR_PLOT,
    RESIDUAL_PLOT,
    ROC_PLOT,
    SCATTER_PLOT,
    area_under,
    diagnose,
    roc_curve,
)
from tests.conftest import write_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_and_per_class_scores_worked_by_hand():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    # argmax of these rows: 0, 1, 1, 1, 2, 0
    y_prob = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.3, 0.6, 0.1],
            [0, 0, 1],
            [0.5, 0.2, 0.3],
        ]
    )
    metrics, figures = diagnose("classification", y_true, y_prob, ["cat", "dog", "eel"])

    assert metrics["per_class"] == {
        "cat": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2},
        "dog": {
            "precision": pytest.approx(2 / 3),
            "recall": 1.0,
            "f1": pytest.approx(0.8),
            "support": 2,
        },
        "eel": {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2},
    }
    assert metrics["test_accuracy"] == pytest.approx(4 / 6)
    assert metrics["test_macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert "test_roc_auc" not in metrics  # ROC and PR curves are for two classes
    assert set(figures) == {CONFUSION_PLOT}
    image = figures[CONFUSION_PLOT].axes[0].images[0]
    assert image.get_array()[2, 0] == pytest.approx(0.5)  # eel: half predicted as cat
    cells = [t.get_text() for t in figures[CONFUSION_PLOT].axes[0].texts]
    assert cells == ["1", "1", "0", "0", "2", "0", "1", "0", "1"]


def test_binary_roc_auc_and_average_precision_match_the_textbook_example():
    # scikit-learn's documented example: AUC 0.75, average precision 0.8333.
    y_true = np.array([0, 0, 1, 1])
    scores = np.array([[0.1], [0.4], [0.35], [0.8]])
    metrics, figures = diagnose("classification", y_true, scores, ["no", "yes"])

    assert metrics["test_roc_auc"] == pytest.approx(0.75)
    assert metrics["test_average_precision"] == pytest.approx(0.8333333)
    fpr, tpr = roc_curve(y_true, scores.ravel())
    assert fpr.tolist() == [0, 0, 0.5, 0.5, 1]
    assert tpr.tolist() == [0, 0.5, 0.5, 1, 1]
    assert set(figures) == {CONFUSION_PLOT, ROC_PLOT, PR_PLOT}


def test_roc_auc_is_the_chance_a_positive_outscores_a_negative():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 300)
    scores = np.round(rng.random(300) + 0.3 * y_true, 2)  # rounded: ties included
    fpr, tpr = roc_curve(y_true, scores)
    positives, negatives = scores[y_true == 1], scores[y_true == 0]
    pairs = positives[:, None] - negatives[None, :]
    expected = (np.sum(pairs > 0) + 0.5 * np.sum(pairs == 0)) / pairs.size
    assert area_under(fpr, tpr) == pytest.approx(expected)


def test_two_softmax_columns_are_read_as_a_binary_problem():
    metrics, _ = diagnose(
        "classification", np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    )
    assert metrics["test_roc_auc"] == 1.0
    assert metrics["per_class"]["1"]["recall"] == 0.5


def test_regression_scores_worked_by_hand():
    metrics, figures = diagnose(
        "regression", np.array([1.0, 2, 3, 4]), np.array([[1.0], [2], [3], [5]]), target="quality"
    )
    assert metrics == {"test_mae": 0.25, "test_rmse": 0.5, "test_r2": pytest.approx(0.8)}
    assert set(figures) == {SCATTER_PLOT, RESIDUAL_PLOT}
    assert "actual quality" in figures[SCATTER_PLOT].axes[0].get_xlabel()


def axes_are_labelled(figure: Figure) -> bool:
    axes = figure.axes[0]
    return bool(axes.get_title() and axes.get_xlabel() and axes.get_ylabel())


@pytest.mark.parametrize(
    ("task", "y_true", "y_pred"),
    [
        ("classification", np.array([0, 1, 1, 0]), np.array([[0.2], [0.9], [0.4], [0.1]])),
        ("regression", np.arange(20.0), np.arange(20.0) + np.sin(np.arange(20.0))),
    ],
)
def test_every_chart_has_a_title_labelled_axes_and_a_legend(task, y_true, y_pred):
    _, figures = diagnose(task, y_true, y_pred, title="demo")
    for name, figure in figures.items():
        assert axes_are_labelled(figure), name
        assert figure.axes[0].get_title().startswith("demo: "), name
        if name == CONFUSION_PLOT:  # the colour bar is its legend
            assert figure.axes[1].get_ylabel() == "share of the true class"
        else:
            assert [t.get_text() for t in figure.legends[0].get_texts()], name


@pytest.mark.parametrize(
    ("task", "y_true", "y_pred"),
    [
        ("regression", np.array([5.0, 6, 7]), np.full((3, 1), 5.84e29, dtype=np.float32)),
        ("regression", np.array([5.0, 6, 7]), np.array([np.inf, np.nan, 1.0])),
        ("regression", np.array([5.0, 5, 5]), np.array([5.0, 5, 5])),
        ("classification", np.array([0, 0, 0]), np.array([0.2, 0.7, np.nan])),
        ("classification", np.array([1]), np.array([[0.9]])),
        ("classification", np.array([0, 1]), np.array([[0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])),
        ("regression", np.array([1.0, 2.0]), np.zeros((3, 1))),  # shapes do not fit: nothing
    ],
)
def test_degenerate_predictions_never_raise_and_every_chart_saves(task, y_true, y_pred):
    import io

    metrics, figures = diagnose(task, y_true, y_pred, ["$a$", "b_$"], title="$x$ run", target="$")
    assert all(not isinstance(v, float) or np.isfinite(v) for v in metrics.values())
    for figure in figures.values():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")  # mathtext in names would fail here
        assert buffer.getvalue().startswith(PNG_MAGIC)


@pytest.mark.parametrize(
    ("target", "task", "files", "keys"),
    [
        (
            "label",
            "classification",
            {CONFUSION_PLOT, ROC_PLOT, PR_PLOT},
            {"per_class", "test_roc_auc", "test_average_precision", "test_macro_f1"},
        ),
        ("y", "regression", {SCATTER_PLOT, RESIDUAL_PLOT}, {"test_mae", "test_rmse", "test_r2"}),
    ],
)
def test_train_writes_the_diagnostics_into_the_run_folder(
    tmp_path: Path, tiny_table: Path, target, task, files, keys
):
    from dlrun.config import load_config
    from dlrun.experiment.run import run_experiment

    config = write_config(
        tmp_path,
        f"""
name: tiny_{task}
data: {{source: csv, path: {tiny_table.name}, target: {target}, features: [a, b, colour]}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 2, batch_size: 32, optimizer: {{name: adam, learning_rate: 0.01}}}}
""",
    )
    outcome = run_experiment(load_config(config))

    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    assert keys <= set(metrics)
    for name in files:
        assert (outcome.run_dir / name).read_bytes().startswith(PNG_MAGIC), name
    if task == "classification":
        assert set(metrics["per_class"]) == {"no", "yes"}
        assert sum(c["support"] for c in metrics["per_class"].values()) == 20  # the test split
        # Keras's own test accuracy is kept, not replaced by the diagnostics' own count.
        assert metrics["test_accuracy"] == outcome.metrics["test_accuracy"]
    else:
        # The default loss is the MSE, so Keras's test loss and our RMSE must agree.
        assert metrics["test_rmse"] == pytest.approx(metrics["test_loss"] ** 0.5, rel=1e-4)
        assert -10 < metrics["test_r2"] <= 1


def test_a_series_gets_a_forecast_chart_with_the_naive_forecast_beside_it():
    times = np.arange("2020-01", "2020-07", dtype="datetime64[M]")
    actual = np.array([10.0, 12, 11, 13, 15, 14])
    naive = np.array([9.0, 10, 12, 11, 13, 15])  # the previous value
    _, figures = diagnose(
        "regression", actual, actual + 0.5, times=times, naive=naive, target="sales"
    )

    axes = figures[FORECAST_PLOT].axes[0]
    labels = [line.get_label() for line in axes.get_lines()]
    assert labels == ["actual", "model (MAE 0.5)", "naive forecast (MAE 1.5)"]
    assert axes.get_ylabel() == "sales (target units)"
    np.testing.assert_array_equal(axes.get_lines()[2].get_ydata(), naive)


def test_no_forecast_chart_without_times():
    _, figures = diagnose("regression", np.arange(5.0), np.arange(5.0))
    assert FORECAST_PLOT not in figures


def test_without_drawing_the_metrics_are_the_same_and_no_figure_is_made():
    y_true = np.array([0, 1, 1, 0, 1])
    y_score = np.array([0.2, 0.9, 0.6, 0.4, 0.3])
    drawn_metrics, drawn = diagnose("classification", y_true, y_score, ["no", "yes"])
    metrics, figures = diagnose("classification", y_true, y_score, ["no", "yes"], draw=False)
    assert metrics == drawn_metrics
    assert set(drawn) == {CONFUSION_PLOT, ROC_PLOT, PR_PLOT}
    assert figures == {}
