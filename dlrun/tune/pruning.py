"""Pruning inside a trial's `dlrun train` process: report the objective, stop when told.

`dlrun tune` starts each trial with `DLRUN_TUNE_TRIAL` set to a JSON object (storage URL, study
name, trial id, objective, pruner). `trial_callbacks()` is then one Keras callback that reports
the objective (or `--prune-on`'s metric) to the study after every epoch and stops training when
the study's pruner says so; `finish` marks such a run `pruned` once it is saved (evaluated, its
history kept). Without the variable both do nothing, and nothing here imports Optuna or Keras.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

from dlrun import runs

TRIAL_ENV = "DLRUN_TUNE_TRIAL"


def trial_settings() -> dict[str, Any] | None:
    text = os.environ.get(TRIAL_ENV)
    if not text:
        return None
    settings = json.loads(text)
    return settings if isinstance(settings, dict) else None


MEDIAN_STARTUP_TRIALS = 3
"""Completed trials before the median pruner judges any, and that must have reached an epoch
for it to judge a trial there: the median of one or two is noise (late epochs, which only the
longest trials reach, would otherwise compare a trial with the single best one)."""


WARMUP_SHARE = 0.1
"""The share of `train.epochs` every trial trains before a pruner may stop it (`--prune-warmup`
overrides it)."""


HALVING_FACTOR = 3
"""`--pruner halving`: a third of the trials at each rung go on, rungs at warm-up x 1, 3, 9,
27 epochs (Hyperband's factor; Optuna's default is 4). With a short warm-up the later rungs then
fall where a run is still improving (10 and 28 epochs for a warm-up of 3), so a trial that
survived the first cut but lags is stopped before early stopping's patience runs out, and the
epochs go to the trials that lead (docs/tune.md: on wine quality with `--prune-warmup 3`, study
seeds 0 to 3 of 0 to 4 matched the 16-point grid's best in fewer epochs; with 4 and a warm-up
of 5, seeds 0 and 2 of 0 to 2 did)."""


def warmup_epochs(max_epochs: int | None) -> int:
    """Epochs every trial trains unjudged by default (at least 1): 10 of wine quality's 100.
    Early epochs rank configs poorly on small, noisy data: over 53 wine-quality runs the rank
    correlation of the best validation MAE so far with the final one was 0.05 after 4 epochs,
    0.17 after 8, 0.33 after 10, 0.55 after 12 (docs/tune.md)."""
    return max(1, round((max_epochs or 0) * WARMUP_SHARE))


def make_pruner(name: str, max_epochs: int | None = None, warmup: int | None = None) -> Any:
    """The Optuna pruner `--pruner` names (the tuner and every trial make the same one); no
    trial is stopped before `warmup` epochs (default: `warmup_epochs`)."""
    import optuna

    warmup = warmup_epochs(max_epochs) if warmup is None else warmup
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=MEDIAN_STARTUP_TRIALS,
            n_warmup_steps=warmup,
            n_min_trials=MEDIAN_STARTUP_TRIALS,
        )
    if name == "halving":
        # Asynchronous successive halving: every trial trains `warmup` epochs, and only the
        # best third of the trials that reached a rung (warmup x 3^k epochs) goes on to the
        # next.
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(1, warmup), reduction_factor=HALVING_FACTOR
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, warmup), max_resource=max_epochs or "auto", reduction_factor=3
        )
    return optuna.pruners.NopPruner()


def trial_callbacks() -> list[Any]:
    """[the pruning callback] inside a `dlrun tune` trial, else []."""
    settings = trial_settings()
    if settings is None:
        return []
    import keras
    import optuna

    class ReportAndPrune(keras.callbacks.Callback):
        """After each epoch: the objective (or `--prune-on`'s metric) to the study; stop when
        the pruner says so."""

        def __init__(self) -> None:
            super().__init__()
            pruner = make_pruner(
                settings["pruner"], settings.get("max_epochs"), settings.get("warmup")
            )
            study = optuna.load_study(
                study_name=settings["study"], storage=settings["storage"], pruner=pruner
            )
            self.trial = optuna.Trial(study, int(settings["trial_id"]))
            self.objective = str(settings["objective"])
            self.early = str(settings.get("prune_on") or self.objective)
            warmup = settings.get("warmup")
            self.warmup = warmup_epochs(settings.get("max_epochs")) if warmup is None else warmup
            self.better = min if study.direction.name == "MINIMIZE" else max
            self.best: dict[str, float] = {}
            self.pruned_at: int | None = None

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            # Up to the first judgement (the end of the warm-up) `--prune-on`'s metric, after
            # it the objective: on small data the training loss ranks configs in the first
            # epochs, where the validation metric is noise, but later it ranks how fast a
            # config overfits, and the objective ranks what the study chooses by.
            metric = self.early if epoch <= self.warmup else self.objective
            # The best value so far, not this epoch's: what the trial has reached (the epoch
            # early stopping keeps), so one noisy epoch neither prunes a trial nor saves it,
            # and every trial's curve is compared with the others' like for like.
            for name in {self.early, self.objective}:
                value = (logs or {}).get(name)
                if value is not None and math.isfinite(float(value)):
                    known = self.best.get(name)
                    value = float(value)
                    self.best[name] = value if known is None else self.better(known, value)
            if metric not in self.best:
                return
            try:
                self.trial.report(self.best[metric], epoch)
                prune = self.trial.should_prune()
            except (RuntimeError, ValueError):  # the study already closed the trial: train on
                return
            if prune:
                self.pruned_at = epoch + 1
                self.trial.set_user_attr("pruned_at_epoch", epoch + 1)
                self.model.stop_training = True

    return [ReportAndPrune()]


def finish(outcome: Any, callbacks: list[Any]) -> Any:
    """The run outcome, its run marked `pruned` when a pruning callback stopped it."""
    epoch = next((c.pruned_at for c in callbacks if getattr(c, "pruned_at", None)), None)
    run_dir = getattr(outcome, "run_dir", None)
    if epoch is None or run_dir is None:
        return outcome
    runs.mark_pruned(run_dir, pruned_at_epoch=epoch)
    return dataclasses.replace(outcome, status=runs.PRUNED)
