"""Evaluate: the trained model on the test split beside the naive baseline, as the numbers
and figures `metrics.json` and the run folder get (`Evaluation`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import pandas as pd

from dlrun.config import ExperimentConfig
from dlrun.data import DataSpec, Split
from dlrun.experiment import verdict
from dlrun.experiment.prepare import Prepared
from dlrun.report import diagnostics
from dlrun.report.curves import NOT_CURVES, history_figures
from dlrun.training import trainer
from dlrun.training.naive_baseline import evaluate_baseline, naive_baseline

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    figures: dict[str, Figure]


def naive_forecasts(spec: DataSpec, test: Split) -> np.ndarray | None:
    """A series' naive forecast of each test target, read from its input window."""
    if spec.naive_forecast_at is None:
        return None
    step, feature = spec.naive_forecast_at
    return test.x[:, step, feature]


def median_throughput(history: pd.DataFrame) -> float:
    """Median training samples/s, without the first epoch (it also traces and compiles)."""
    speeds = history["samples_per_s"]
    return float(np.median(speeds.iloc[1:] if len(speeds) > 1 else speeds))


def kept_epoch_metrics(history: pd.DataFrame, kept_epoch: int) -> dict[str, float]:
    """Train and validation values of the epoch whose weights the model kept."""
    row = history.iloc[kept_epoch - 1]
    return {k: float(v) for k, v in row.items() if k not in NOT_CURVES}


def evaluate(
    config: ExperimentConfig,
    prepared: Prepared,
    model: keras.Model,
    result: trainer.TrainingResult,
    started: float,
) -> Evaluation:
    """Test metrics (Keras's, then diagnostics'), the baseline's, the kept epoch's train and
    validation values, timings, and which way each metric is better."""
    spec, splits, test_data = prepared.splits.spec, prepared.splits, prepared.pipelines.test
    test = trainer.evaluate(model, test_data, prefix="test_")
    predictions = trainer.predict(model, test_data)
    test_metrics, test_figures = diagnostics.diagnose(
        spec.task,
        splits.test.y,
        predictions,
        spec.class_names,
        title=config.name,
        target=getattr(config.data, "target", None),
        times=splits.test.times,
        naive=naive_forecasts(spec, splits.test),
        draw=config.report.plots,
    )
    baseline = naive_baseline(spec, splits.train.y, prepared.loss, prepared.output_width)
    baseline_test = evaluate_baseline(baseline, spec, prepared.compile_arguments(), test_data)
    metrics = {
        **kept_epoch_metrics(result.history, result.kept_epoch),
        **test,
        **{f"baseline_test_{k}": float(v) for k, v in baseline_test.items()},
        "baseline": baseline.description,
        "epochs_run": len(result.history),
        "kept_epoch": result.kept_epoch,
        "stopped_early": result.stopped_early,
        "train_time_s": round(result.train_time_s, 3),
        "median_samples_per_s": median_throughput(result.history),
        "time_to_first_step_s": (
            round(result.first_step_at - started, 3) if result.first_step_at else None
        ),
        "param_count": int(model.count_params()),
    }
    # Keras's own test values stay; diagnostics add per-class scores, AUC, R² and the like.
    metrics.update({k: v for k, v in test_metrics.items() if k not in metrics})
    metrics["metric_directions"] = trainer.metric_directions(model)
    found = verdict.judge(
        metrics,
        prepared.metric_names,
        metrics["metric_directions"],
        history=result.history,
        spec=spec,
        x_train=splits.train.x,
        y_train=splits.train.y,
        predictions=predictions,
        stopped_early=result.stopped_early,
    )
    if found is not None:  # did it learn? (`dlrun.experiment.verdict`)
        metrics.update(found.to_metrics())
    figures = {}
    if config.report.plots:
        figures = {**history_figures(result.history, config.name), **test_figures}
    return Evaluation(metrics, figures)
