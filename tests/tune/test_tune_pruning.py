"""The pruner `dlrun tune` makes: no trial judged before its warm-up, trials compared by the
best objective each has reached, and the warm-up recorded and passed on to every trial."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from dlrun.tune import pruning
from dlrun.tune import study as studies
from dlrun.tune.space import load_space
from tests.conftest import write_config

optuna = pytest.importorskip("optuna")


@pytest.fixture
def tiny_tune(tmp_path: Path, tiny_table: Path) -> tuple[Path, dict]:
    """A 40-epoch config on the tiny table and a one-key space: what `prepare` checks."""
    config = write_config(
        tmp_path,
        f"""
name: tiny
data: {{source: csv, path: {tiny_table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 40, optimizer: {{name: adam, learning_rate: 0.01}}}}
""",
    )
    return config, load_space(None, ["model.dropout={uniform: [0, 0.5]}"])


def trial_callback(tmp_path: Path, monkeypatch, **settings):
    """A study in SQLite with one trial, and the pruning callback a `dlrun tune` trial process
    would make for it (its settings in the environment, as the tuner passes them)."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    trial = study.ask()
    settings = {"storage": storage, "study": "s", "trial_id": trial._trial_id, **settings}
    monkeypatch.setenv(pruning.TRIAL_ENV, json.dumps(settings))
    [callback] = pruning.trial_callbacks()
    return study, callback


def test_the_default_warmup_is_a_tenth_of_the_epochs():
    assert pruning.warmup_epochs(100) == 10  # wine quality's config
    assert pruning.warmup_epochs(6) == 1  # never 0: the first epoch is not judged alone
    assert pruning.warmup_epochs(None) == 1


def finished(study, values: list[float]) -> None:
    trial = study.ask()
    for step, value in enumerate(values):
        trial.report(value, step)
    study.tell(trial, min(values))


def test_the_median_pruner_waits_for_its_warmup_and_its_startup_trials():
    study = optuna.create_study(pruner=pruning.make_pruner("median", 100, warmup=3))
    lagging = study.ask()
    for step in range(5):  # before enough trials finished, nothing is pruned
        lagging.report(1.0, step)
        assert not lagging.should_prune()
    study.tell(lagging, state=optuna.trial.TrialState.FAIL)
    assert pruning.MEDIAN_STARTUP_TRIALS == 3
    finished(study, [0.5, 0.4, 0.3, 0.2, 0.1])  # a trial early stopping ended at 5 epochs
    finished(study, [0.5, 0.4, 0.3, 0.2, 0.1] * 2)
    finished(study, [0.5, 0.4, 0.3, 0.2, 0.1] * 2)
    lagging = study.ask()
    decisions = []
    for step in range(8):
        lagging.report(1.0, step)
        decisions.append(lagging.should_prune())
    # Judged from step 3 (the 4th epoch), and only where three finished trials got to.
    assert decisions == [False, False, False, True, True, False, False, False]


def test_the_warmup_is_recorded_and_can_be_set(tiny_tune):
    config, space = tiny_tune
    assert studies.prepare(config, space, 4).warmup == 4
    tune = studies.prepare(config, space, 4, warmup=7)
    assert tune.record()["prune_warmup"] == 7
    settings = json.loads(studies._settings(tune, SimpleNamespace(_trial_id=1))[pruning.TRIAL_ENV])
    assert settings["warmup"] == 7  # each trial's pruner is the tuner's


def test_each_epoch_reports_the_best_value_so_far(tmp_path: Path, monkeypatch):
    """A noisy epoch does not undo what a trial reached (early stopping keeps that epoch)."""
    study, callback = trial_callback(
        tmp_path, monkeypatch, objective="val_loss", pruner="none", max_epochs=4, warmup=1
    )
    for epoch, value in enumerate([0.5, 0.7, 0.4, 0.6]):
        callback.on_epoch_end(epoch, {"val_loss": value})
    reported = study.trials[0].intermediate_values
    assert reported == {0: 0.5, 1: 0.5, 2: 0.4, 3: 0.4}


def test_the_prune_metric_is_reported_up_to_the_first_judgement(tmp_path: Path, monkeypatch):
    """--prune-on loss: the training loss up to the end of the warm-up (the first judgement),
    the objective's best so far after it; the objective alone chooses the best trial."""
    study, callback = trial_callback(
        tmp_path,
        monkeypatch,
        objective="val_loss",
        prune_on="loss",
        pruner="none",
        max_epochs=5,
        warmup=1,
    )
    epochs = [(0.9, 0.42), (0.7, 0.6), (0.8, 0.45), (0.6, 0.55), (0.5, 0.4)]
    for epoch, (loss, val_loss) in enumerate(epochs):
        callback.on_epoch_end(epoch, {"loss": loss, "val_loss": val_loss})
    reported = study.trials[0].intermediate_values
    assert reported == {0: 0.9, 1: 0.7, 2: 0.42, 3: 0.42, 4: 0.4}


def test_the_prune_metric_defaults_to_the_objective_and_is_recorded(tiny_tune):
    config, space = tiny_tune
    assert studies.prepare(config, space, 4).record()["prune_on"] == "val_loss"
    tune = studies.prepare(config, space, 4, prune_on="loss", pruner="halving")
    assert tune.record()["prune_on"] == "loss"
    settings = json.loads(studies._settings(tune, SimpleNamespace(_trial_id=1))[pruning.TRIAL_ENV])
    assert settings["prune_on"] == "loss" and settings["pruner"] == "halving"


def test_successive_halving_keeps_a_third_at_each_rung():
    """--pruner halving: judged first after the warm-up; then only the best third of the
    trials that reached a rung trains on to the next (warm-up x 3, x 9 epochs)."""
    assert pruning.HALVING_FACTOR == 3
    pruner = pruning.make_pruner("halving", 100, warmup=2)
    assert isinstance(pruner, optuna.pruners.SuccessiveHalvingPruner)
    study = optuna.create_study(pruner=pruner)
    stopped = {}
    for value in [0.5, 0.4, 0.3, 0.2, 0.6, 0.25, 0.1]:
        trial = study.ask()
        decisions = []
        for step in range(9):
            trial.report(value, step)
            decisions.append(trial.should_prune())
            if decisions[-1]:
                break
        assert decisions[:2] == [False, False]  # the warm-up: never judged
        if decisions[-1]:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            stopped[value] = len(decisions) - 1
        else:
            study.tell(trial, value)
    # 0.6 lags every trial before it at the first rung (step 2). 0.25 is second of the six
    # there: in the best third, so it trains on, and is stopped at the next rung (step 2 x 3),
    # behind 0.2 among the five that got there (a quarter would have stopped it at step 2).
    # 0.1 leads all of them at both.
    assert stopped == {0.6: 2, 0.25: 6}


def test_a_pruned_trial_shows_its_runs_objective_not_the_prune_metric():
    study = optuna.create_study()
    trial = study.ask()
    trial.report(0.31, 5)  # a training loss (--prune-on loss)
    trial.set_user_attr("objective_value", 0.52)  # its run's val_loss
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert study.trials[0].value == 0.31  # what Optuna keeps for a pruned trial
    assert studies.shown_value(study.trials[0]) == 0.52
