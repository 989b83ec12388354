"""Test-set diagnostics a run folder gets besides its curves: where the model goes wrong.

Pure functions of NumPy arrays (labels, predicted probabilities or values): no Keras, no files,
so every number and chart is tested on hand-made arrays, and `dlrun.experiment.run` only has to
pass its test predictions in and save what comes back.

- classification: confusion matrix; per-class precision, recall, F1 and support; macro averages;
  for two classes also the ROC curve with its AUC and the precision-recall curve with its
  average precision.
- regression: MAE, RMSE and R²; predicted-vs-actual scatter and a residual histogram.

The curves are computed here rather than with scikit-learn, which dlrun does not depend on;
the definitions follow scikit-learn's (tests compare against hand-worked values).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CONFUSION_PLOT = "confusion_matrix.png"
ROC_PLOT = "roc_curve.png"
PR_PLOT = "precision_recall_curve.png"
SCATTER_PLOT = "predicted_vs_actual.png"
RESIDUAL_PLOT = "residuals.png"
FORECAST_PLOT = "forecast.png"


def diagnose(
    task: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: list[str] | None = None,
    *,
    title: str = "",
    target: str | None = None,
    times: np.ndarray | None = None,
    naive: np.ndarray | None = None,
    draw: bool = True,
) -> tuple[dict[str, Any], dict[str, Figure]]:
    """(metrics, {filename: figure}) for a test set; no figures are drawn when `draw` is False.

    For a series, `times` (of each target) and `naive` (the naive forecast of each) add a
    forecast-vs-actual chart over the test period with the naive forecast beside it.

    `y_pred` is what `model.predict` returns: class probabilities (one column of P(class 1)
    for a sigmoid output), or predicted values for regression. Predictions whose shape does not
    fit the labels (an unusual `sequential` output) give nothing rather than an error: the
    diagnostics are an extra, never the reason a trained run fails.
    """
    from dlrun.report import diagnostic_figures as drawing

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        return {}, {}
    if task == "classification":
        metrics, figures = classification_diagnostics(
            y_true, y_pred, class_names, title=title, draw=draw
        )
    elif task == "regression" and y_true.size == y_pred.size:
        metrics, figures = regression_diagnostics(
            y_true.ravel(), y_pred.ravel(), title=title, target=target, draw=draw
        )
    else:
        return {}, {}
    if draw and times is not None and naive is not None and task == "regression":
        predicted = y_pred.ravel().astype(np.float64)
        if np.isfinite(predicted).all():
            figures[FORECAST_PLOT] = drawing.forecast_figure(
                times,
                y_true.ravel(),
                predicted,
                np.asarray(naive, dtype=np.float64),
                drawing.plain_text(target or "target"),
                title,
            )
    # A NaN score (a diverged model) says nothing, and is not valid JSON either.
    return {k: v for k, v in metrics.items() if not _not_finite(v)}, figures


def _not_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


# Classification


def predicted_labels(y_score: np.ndarray) -> np.ndarray:
    """Class indices from probabilities: argmax over columns, or P(class 1) >= 0.5 (>= 0 when
    the single column holds logits rather than probabilities)."""
    if y_score.ndim == 2 and y_score.shape[1] > 1:
        return np.argmax(y_score, axis=1)
    scores = y_score.ravel()
    threshold = 0.5 if scores.min(initial=0) >= 0 and scores.max(initial=1) <= 1 else 0.0
    return (scores >= threshold).astype(np.int64)


def positive_scores(y_score: np.ndarray) -> np.ndarray:
    """The score of class 1 for a two-class problem, from one column or two."""
    if y_score.ndim == 2 and y_score.shape[1] == 2:
        return y_score[:, 1]
    return y_score.ravel()


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """counts[true class, predicted class]."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    out = np.zeros(np.shape(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=np.asarray(denominator) != 0)
    return out


def per_class_scores(counts: np.ndarray, class_names: list[str]) -> dict[str, dict[str, Any]]:
    """{class name: precision, recall, f1, support} from a confusion matrix."""
    hits = np.diag(counts).astype(np.float64)
    predicted, actual = counts.sum(axis=0), counts.sum(axis=1)
    precision, recall = _ratio(hits, predicted), _ratio(hits, actual)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(actual[i]),
        }
        for i, name in enumerate(class_names)
    }


def roc_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates) at every distinct threshold, from (0, 0)."""
    tps, fps = _cumulative_counts(y_true, score)
    tpr = np.concatenate([[0.0], tps / max(tps[-1], 1)])
    fpr = np.concatenate([[0.0], fps / max(fps[-1], 1)])
    return fpr, tpr


def precision_recall_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) at every distinct threshold, highest threshold first."""
    tps, fps = _cumulative_counts(y_true, score)
    precision = tps / (tps + fps)
    recall = tps / max(tps[-1], 1)
    return precision, recall


def _cumulative_counts(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when predicting positive for scores >= each distinct score."""
    order = np.argsort(-score, kind="mergesort")
    score, positive = score[order], (y_true[order] == 1).astype(np.float64)
    # One point per distinct score: tied examples switch together.
    last_of_each = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tps = np.cumsum(positive)[last_of_each]
    fps = (1 + last_of_each) - tps
    return tps, fps


def area_under(x: np.ndarray, y: np.ndarray) -> float:
    """Trapezoidal area (ROC AUC)."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """Sum of precision times recall gained at each threshold (no interpolation)."""
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def classification_diagnostics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    class_names: list[str] | None,
    *,
    title: str = "",
    draw: bool = True,
) -> tuple[dict[str, Any], dict[str, Figure]]:
    from dlrun.report import diagnostic_figures as drawing  # matplotlib only when drawing

    labels = (
        np.argmax(y_true, axis=1) if y_true.ndim == 2 and y_true.shape[1] > 1 else y_true.ravel()
    ).astype(np.int64)
    predicted = predicted_labels(y_score)
    width = y_score.shape[1] if y_score.ndim == 2 and y_score.shape[1] > 1 else 2
    num_classes = max(
        len(class_names or []), width, int(labels.max()) + 1, int(predicted.max()) + 1
    )
    names = list(class_names or [])
    names += [str(i) for i in range(len(names), num_classes)]

    counts = confusion_matrix(labels, predicted, num_classes)
    per_class = per_class_scores(counts, names)
    metrics: dict[str, Any] = {
        "test_accuracy": float(np.trace(counts) / counts.sum()),
        "test_macro_precision": float(np.mean([c["precision"] for c in per_class.values()])),
        "test_macro_recall": float(np.mean([c["recall"] for c in per_class.values()])),
        "test_macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
    }
    figures = (
        {
            CONFUSION_PLOT: drawing.confusion_figure(
                counts, _ratio(counts, counts.sum(axis=1, keepdims=True)), names, title
            )
        }
        if draw
        else {}
    )

    both_present = num_classes == 2 and 0 < labels.sum() < len(labels)
    if both_present:
        score = positive_scores(y_score).astype(np.float64)
        fpr, tpr = roc_curve(labels, score)
        precision, recall = precision_recall_curve(labels, score)
        metrics["test_roc_auc"] = area_under(fpr, tpr)
        metrics["test_average_precision"] = average_precision(precision, recall)
        if draw:
            figures[ROC_PLOT] = drawing.roc_figure(
                fpr, tpr, metrics["test_roc_auc"], names[1], title
            )
            figures[PR_PLOT] = drawing.pr_figure(
                precision,
                recall,
                metrics["test_average_precision"],
                float(labels.mean()),
                names[1],
                title,
            )
    return metrics, figures


# Regression


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R² (1 - residual variance / target variance; omitted for a constant target,
    where it is undefined)."""
    y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
    residual = y_pred - y_true
    scores = {
        "test_mae": float(np.mean(np.abs(residual))),
        "test_rmse": float(math.sqrt(np.mean(residual**2))),
    }
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    if total > 0:
        scores["test_r2"] = 1.0 - float(np.sum(residual**2)) / total
    return scores


def regression_diagnostics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    title: str = "",
    target: str | None = None,
    draw: bool = True,
) -> tuple[dict[str, Any], dict[str, Figure]]:
    from dlrun.report import diagnostic_figures as drawing  # matplotlib only when drawing

    scores = regression_scores(y_true, y_pred)
    what = drawing.plain_text(target or "target")
    y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
    finite = np.isfinite(y_true) & np.isfinite(y_pred)
    if not draw or not finite.any():  # diverged: the metrics say so, there is nothing to draw
        return scores, {}
    y_true, y_pred = y_true[finite], y_pred[finite]
    return scores, {
        SCATTER_PLOT: drawing.scatter_figure(y_true, y_pred, scores, what, title),
        RESIDUAL_PLOT: drawing.residual_figure(y_pred - y_true, what, title),
    }
