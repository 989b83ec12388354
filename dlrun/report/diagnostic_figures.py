"""The test-set diagnostics as matplotlib figures (numbers: `dlrun.report.diagnostics`)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import numpy as np
from matplotlib.figure import Figure

MAX_ANNOTATED_CLASSES = 20  # beyond this, numbers in the cells no longer fit
MAX_LABELLED_CLASSES = 40


def _legend_below(figure: Figure) -> None:
    """Legends go under the chart, where they can never cover a curve, bar or point."""
    entries = len(figure.axes[0].get_legend_handles_labels()[1])
    figure.legend(loc="outside lower center", ncols=min(entries, 3), fontsize=9, frameon=False)


def _title(title: str, text: str) -> str:
    return f"{plain_text(title)}: {text}" if title else text


def plain_text(text: str) -> str:
    """User text (run, class, column names) shown literally: matplotlib would read `$...$` as
    math, and a malformed formula only fails when the PNG is saved."""
    return text.replace("$", r"\$")


def confusion_figure(
    counts: np.ndarray, shares: np.ndarray, names: list[str], title: str = ""
) -> Figure:
    """Cells coloured by the share of each true class (so rare classes show their errors too),
    annotated with counts while they fit."""
    k = len(names)
    side = min(4.5 + 0.3 * k, 12)
    figure = Figure(figsize=(side + 1.2, side))
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label("share of the true class")
    if k <= MAX_ANNOTATED_CLASSES:
        size = 9 if k <= 10 else 7
        for (row, col), count in np.ndenumerate(counts):
            colour = "white" if shares[row, col] > 0.5 else "black"
            axes.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=size)
    if k <= MAX_LABELLED_CLASSES:
        axes.set_xticks(
            range(k),
            labels=[_short(n) for n in names],
            rotation=45 if k > 6 and max(map(len, names)) > 2 else 0,
            ha="right" if k > 6 and max(map(len, names)) > 2 else "center",
        )
        axes.set_yticks(range(k), labels=[_short(n) for n in names])
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(_title(title, f"confusion matrix (test set, {int(counts.sum())} examples)"))
    figure.tight_layout()
    return figure


def _short(name: str, limit: int = 14) -> str:
    return plain_text(name if len(name) <= limit else name[: limit - 1] + "…")


def roc_figure(
    fpr: np.ndarray, tpr: np.ndarray, auc: float, positive: str, title: str = ""
) -> Figure:
    figure = Figure(figsize=(5.5, 5.6), layout="constrained")
    axes = figure.subplots()
    axes.plot(fpr, tpr, linewidth=2, label=f"model (AUC = {auc:.3f})")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance (AUC = 0.5)")
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.01)
    axes.set_xlabel("false positive rate (share of negatives flagged)")
    axes.set_ylabel("true positive rate (share of positives found)")
    axes.set_title(_title(title, f"ROC curve, positive class '{_short(positive)}'"))
    axes.grid(alpha=0.3)
    _legend_below(figure)
    return figure


def pr_figure(
    precision: np.ndarray,
    recall: np.ndarray,
    ap: float,
    positive_share: float,
    positive: str,
    title: str = "",
) -> Figure:
    figure = Figure(figsize=(5.5, 5.6), layout="constrained")
    axes = figure.subplots()
    axes.step(
        np.r_[0.0, recall],
        np.r_[precision[0], precision],
        where="pre",
        linewidth=2,
        label=f"model (average precision = {ap:.3f})",
    )
    axes.axhline(
        positive_share,
        linestyle="--",
        color="grey",
        label=f"no skill (positive share = {positive_share:.2f})",
    )
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.05)
    axes.set_xlabel("recall (share of positives found)")
    axes.set_ylabel("precision (share of flagged that are positive)")
    axes.set_title(_title(title, f"precision-recall curve, positive class '{_short(positive)}'"))
    axes.grid(alpha=0.3)
    _legend_below(figure)
    return figure


def scatter_figure(
    y_true: np.ndarray, y_pred: np.ndarray, scores: dict[str, float], target: str, title: str = ""
) -> Figure:
    figure = Figure(figsize=(5.5, 5.6), layout="constrained")
    axes = figure.subplots()
    alpha = 0.7 if len(y_true) <= 500 else 0.3
    axes.scatter(y_true, y_pred, s=14, alpha=alpha, label=f"test examples ({len(y_true)})")
    low = float(min(y_true.min(), y_pred.min()))
    high = float(max(y_true.max(), y_pred.max()))
    axes.plot([low, high], [low, high], linestyle="--", color="grey", label="perfect prediction")
    axes.set_xlabel(f"actual {target} (target units)")
    axes.set_ylabel(f"predicted {target} (target units)")
    summary = f"MAE {scores['test_mae']:.3g}, RMSE {scores['test_rmse']:.3g}"
    if "test_r2" in scores:
        summary += f", R² {scores['test_r2']:.3f}"
    axes.set_title(_title(title, f"predicted vs actual\n{summary}"))
    axes.grid(alpha=0.3)
    _legend_below(figure)
    return figure


def forecast_figure(
    times: np.ndarray,
    actual: np.ndarray,
    predicted: np.ndarray,
    naive: np.ndarray,
    target: str,
    title: str = "",
) -> Figure:
    """The test period in time order: actual values, the model's forecast, the naive one."""
    figure = Figure(figsize=(7.5, 4.4), layout="constrained")
    axes = figure.subplots()
    model_mae = float(np.mean(np.abs(predicted - actual)))
    naive_mae = float(np.mean(np.abs(naive - actual)))
    axes.plot(times, actual, color="black", marker="o", markersize=3, label="actual")
    axes.plot(times, predicted, marker="o", markersize=3, label=f"model (MAE {model_mae:.3g})")
    axes.plot(times, naive, linestyle="--", label=f"naive forecast (MAE {naive_mae:.3g})")
    axes.set_xlabel("time of the forecast value")
    axes.set_ylabel(f"{target} (target units)")
    axes.set_title(_title(title, "forecast vs actual over the test period"))
    axes.grid(alpha=0.3)
    if np.issubdtype(np.asarray(times).dtype, np.datetime64):
        figure.autofmt_xdate()
    _legend_below(figure)
    return figure


def bin_edges(values: np.ndarray) -> np.ndarray:
    """10 to 50 histogram bins; one bin around the value when all values are (numerically) the
    same, which numpy refuses to split (a model that predicts one huge constant)."""
    count = int(min(50, max(10, math.sqrt(len(values)))))
    low, high = float(values.min()), float(values.max())
    edges = np.linspace(low, high, count + 1)
    if high > low and np.all(np.diff(edges) > 0):
        return edges
    half = max(abs(low) * 1e-3, 0.5)
    return np.array([low - half, low + half])


def residual_figure(residuals: np.ndarray, target: str, title: str = "") -> Figure:
    figure = Figure(figsize=(6, 4.6), layout="constrained")
    axes = figure.subplots()
    axes.hist(
        residuals, bins=bin_edges(residuals), color="tab:blue", alpha=0.75, label="test examples"
    )
    axes.axvline(0, color="black", linestyle="--", label="no error")
    mean = float(np.mean(residuals))
    axes.axvline(mean, color="tab:red", label=f"mean residual = {mean:.3g}")
    axes.set_xlabel(f"residual: predicted - actual {target} (target units)")
    axes.set_ylabel("number of test examples")
    axes.set_title(_title(title, "residuals on the test set"))
    axes.grid(alpha=0.3)
    _legend_below(figure)
    return figure
