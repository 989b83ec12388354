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
    require_logged(config, "--objective", objective)
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


def choose_prune_metric(config: Any, requested: str | None, objective: str, direction: str) -> str:
    """`--prune-on`: the metric each trial reports to the pruner (default: the objective). It
    must be logged, not of the test split, and better the same way as the objective: a pruner
    compares reports in the study's direction."""
    if requested is None or requested == objective:
        return objective
    if requested.startswith(("test_", "baseline_test_")):
        raise ConfigError(
            f"--prune-on {requested}: a tuner never decides by the test split",
            received=requested,
            expected="a training or validation metric, e.g. loss",
            fix="prune on loss or a val_ metric",
        )
    require_logged(config, "--prune-on", requested)
    way = better_direction(requested)
    if way is not None and ("maximize" if way == "max" else "minimize") != direction:
        raise ConfigError(
            f"--prune-on {requested}: better the other way than the objective {objective}",
            received=requested,
            expected=f"a metric to {direction}, as {objective} is",
            fix=f"prune on a metric to {direction} (e.g. loss when minimising), or leave "
            "--prune-on out to prune on the objective",
        )
    return requested


def require_logged(config: Any, option: str, metric: str) -> None:
    """`metric` is one every trial logs (from train.loss and train.metrics), else exit 2."""
    known = logged_metrics(config)
    if metric not in known:
        raise ConfigError(
            f"{option} {metric}: no trial will log that metric",
            received=metric,
            expected=f"one of {', '.join(known)} (from train.loss and train.metrics)",
            fix="pick one of those, or add the metric to train.metrics",
        )
