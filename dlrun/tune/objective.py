"""The objective of a study: which metric, which way, and never one of the test split."""

from __future__ import annotations

from typing import Any

from dlrun.analysis.directions import better_direction
from dlrun.core.errors import ConfigError


def logged_metrics(config: Any) -> list[str]:
    """The metric names a run of this config logs (both default metric lists when the task is
    only known once the data is read)."""
    train = config.train
    if train.metrics is not None:
        metrics = list(train.metrics)
    else:
        task = getattr(config.data, "task", None)
        metrics = {"classification": ["accuracy"], "regression": ["mae"]}.get(task, [])
        metrics = metrics or ["accuracy", "mae"]
    names = ["loss", *metrics]
    return [*names, *(f"val_{name}" for name in names)]


def choose_objective(config: Any, requested: str | None) -> str:
    """`--objective`, else the early-stopping monitor, else val_loss; never a test metric."""
    stopping = config.train.early_stopping
    objective = requested or (stopping.monitor if stopping else "val_loss")
    if objective.startswith(("test_", "baseline_test_")):
        raise ConfigError(
            f"--objective {objective}: a tuner never chooses by the test split",
            received=objective,
            expected="a validation metric, e.g. val_loss",
            fix="tune on a val_ metric: each trial's test metrics are reported, and the test "
            "split stays an unbiased estimate of the winner only if nothing chose by it",
        )
    known = logged_metrics(config)
    if objective not in known:
        raise ConfigError(
            f"--objective {objective}: no trial will log that metric",
            received=objective,
            expected=f"one of {', '.join(known)} (from train.loss and train.metrics)",
            fix="pick one of those, or add the metric to train.metrics",
        )
    return objective


def choose_direction(objective: str, maximize: bool | None) -> str:
    if maximize is not None:
        return "maximize" if maximize else "minimize"
    direction = better_direction(objective)
    if direction is None:
        raise ConfigError(
            f"--objective {objective}: which way is better is not known from its name",
            fix="add --maximize or --minimize",
        )
    return "maximize" if direction == "max" else "minimize"
