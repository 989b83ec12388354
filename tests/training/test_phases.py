"""`train.phases`: which weights each phase trains, frozen batch normalization, the `phase`
column of history.csv, and a run stopped in phase 2 resuming in phase 2."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from dlrun.config import load_config
from dlrun.core.errors import ConfigError, Interrupted
from dlrun.data import DataSpec
from dlrun.experiment.run import run_experiment
from dlrun.models import build_model
from dlrun.models.backbones import backbone_layers
from dlrun.models.cnn import CNNParams
from dlrun.training.phases import where_to_start
from tests.conftest import write_config


@pytest.fixture
def backbone(tmp_path: Path) -> Path:
    """A tiny conv net with batch normalization, saved as a run saves it: the backbone the
    phases fine-tune (a Keras Application works the same, only slower to trace)."""
    spec = DataSpec(
        input_shape=(8, 8, 1), task="classification", input_kind="images", num_classes=3
    )
    params = CNNParams(filters=[4, 8], batch_norm=True, dense=[], dropout=0.0)
    path = tmp_path / "pretrained" / "model.keras"
    path.parent.mkdir()
    build_model(params, spec).save(path)
    return path


def phases_config(tmp_path: Path, images: dict[str, Path], phases: str, model: str | Path) -> Path:
    if isinstance(model, Path):
        model = f"{{type: pretrained, weights: {model}, dropout: 0.0}}"
    return write_config(
        tmp_path,
        f"""
name: phases
data: {{source: idx, images: {images["images"]}, labels: {images["labels"]}}}
model: {model}
train: {{batch_size: 16, steps_per_execution: 1, phases: {phases}}}
report: {{plots: false}}
""",
    )


class Snapshots(keras.callbacks.Callback):
    """Every weight of the model by path: at the start, and at the end of each phase's fit."""

    def __init__(self) -> None:
        super().__init__()
        self.at_start: dict[str, np.ndarray] | None = None
        self.after: list[dict[str, np.ndarray]] = []
        self.backbone_trainable: list[bool] = []

    def _weights(self) -> dict[str, np.ndarray]:
        return {w.path: np.array(w.numpy()) for w in self.model.weights}

    def on_train_begin(self, logs=None) -> None:
        if self.at_start is None:
            self.at_start = self._weights()
        self.backbone_trainable.append(self.model.get_layer("backbone").trainable)

    def on_train_end(self, logs=None) -> None:
        self.after.append(self._weights())


def changed(before: dict, after: dict, paths: list[str]) -> set[str]:
    return {p for p in paths if not np.array_equal(before[p], after[p])}


def paths_of(layers: list[keras.layers.Layer]) -> list[str]:
    return [w.path for layer in layers for w in layer.weights]


@pytest.mark.slow  # ~15 s: three phases, each compiled and traced
def test_each_phase_trains_only_its_layers_and_frozen_batchnorm_keeps_its_statistics(
    tmp_path, tiny_images, backbone
):
    config = phases_config(
        tmp_path,
        tiny_images,
        "[{epochs: 1, trainable: head},"
        " {epochs: 1, trainable: last 2, freeze_batchnorm: false},"
        " {epochs: 1, trainable: all, learning_rate: 0.0001}]",
        backbone,
    )
    snapshots = Snapshots()
    outcome = run_experiment(load_config(config), callbacks=[snapshots])

    model = snapshots.model
    layers = backbone_layers(model)
    backbone, head = paths_of(layers), paths_of([model.get_layer("output")])
    start, (head_only, last_two, everything) = snapshots.at_start, snapshots.after
    # Phase 1: the head learns, the backbone (its batch norm statistics too) does not move.
    assert changed(start, head_only, head) == set(head)
    assert changed(start, head_only, backbone) == set()
    # Phase 2: the last two backbone layers with weights and the head, nothing else; batch norm
    # was not frozen, so the last block's statistics moved.
    assert changed(head_only, last_two, backbone) == set(paths_of(layers[-2:]))
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in layers[-2:])
    # Phase 3: all convolutions train; every batch norm variable (statistics too) stays.
    norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    assert changed(last_two, everything, paths_of(norms)) == set()
    assert changed(last_two, everything, paths_of(convs)) == set(paths_of(convs))

    history = pd.read_csv(outcome.run_dir / "history.csv")
    assert history["phase"].tolist() == [1, 2, 3]
    assert history["epoch"].tolist() == [1, 2, 3]


class Rates(keras.callbacks.Callback):
    """The optimizer's learning rate at the start of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


@pytest.mark.slow  # ~15 s on 2 busy cores: two phases, each compiled and traced
def test_each_phase_trains_at_its_own_learning_rate(tmp_path, tiny_images, backbone):
    # The transfer recipe: the head at one rate, then everything at a 10x lower one.
    config = phases_config(
        tmp_path,
        tiny_images,
        "[{epochs: 1, trainable: head, learning_rate: 0.01},"
        " {epochs: 2, trainable: all, learning_rate: 0.001}]",
        backbone,
    )
    rates = Rates()
    run_experiment(load_config(config), callbacks=[rates])
    np.testing.assert_allclose(rates.rates, [0.01, 0.001, 0.001], rtol=1e-6)


class StopAfter(keras.callbacks.Callback):
    """Ctrl-C once `epochs` epochs are backed up (raised at the next epoch's end)."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if epoch + 1 > self.epochs:
            raise KeyboardInterrupt


@pytest.mark.slow  # ~15 s each: a run stopped, then resumed
@pytest.mark.parametrize(
    "backed_up",
    [pytest.param(1, id="between-the-phases"), pytest.param(2, id="inside-phase-2")],
)
def test_a_run_stopped_in_phase_two_resumes_in_phase_two(
    tmp_path, tiny_images, backbone, backed_up
):
    config = load_config(
        phases_config(
            tmp_path,
            tiny_images,
            "[{epochs: 1, trainable: head}, {epochs: 3, trainable: all, learning_rate: 0.0001}]",
            backbone,
        )
    )
    with pytest.raises(Interrupted) as stopped:
        # Stopped in phase 2's first (1) or second (2) epoch: the backup holds phase 1's one
        # epoch, or that and one of phase 2.
        run_experiment(config, callbacks=[StopAfter(backed_up)])
    run_dir = stopped.value.run_dir

    snapshots = Snapshots()
    resumed = run_experiment(
        load_config(run_dir / "config.yaml"), callbacks=[snapshots], resume=run_dir
    )

    assert resumed.run_dir == run_dir
    info = json.loads((run_dir / "run.json").read_text())
    assert info["resumes"][-1]["from_epoch"] == backed_up
    assert snapshots.backbone_trainable == [True]  # only phase 2 ran: the backbone unfrozen
    history = pd.read_csv(run_dir / "history.csv")
    assert history["phase"].tolist() == [1, 2, 2, 2]
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_a_resumed_run_finds_its_phase_in_the_history():
    config = load_phases([2, 3])
    assert where_to_start(config, []) == (0, 0)
    assert where_to_start(config, [{"phase": 1}]) == (0, 1)
    assert where_to_start(config, [{"phase": 1}] * 2) == (1, 0)
    # Early stopping ended phase 1 after one epoch: phase 2 went on from epoch 2.
    assert where_to_start(config, [{"phase": 1}, {"phase": 2}]) == (1, 1)


def load_phases(epochs: list[int]):
    from dlrun.config.schema import TrainConfig

    return TrainConfig(phases=[{"epochs": e} for e in epochs]).phases


def test_phases_set_the_epochs_and_must_agree_with_them():
    from dlrun.config.schema import TrainConfig

    assert TrainConfig(phases=[{"epochs": 2}, {"epochs": 3}]).epochs == 5
    with pytest.raises(ValueError, match="the phases add up to 5"):
        TrainConfig(epochs=4, phases=[{"epochs": 2}, {"epochs": 3}])
    with pytest.raises(ValueError, match="trainable"):
        TrainConfig(phases=[{"epochs": 2, "trainable": "last 0"}])


def test_freezing_a_backbone_the_model_lacks_is_a_config_error_before_the_run(
    tmp_path, tiny_images, output_dir
):
    config = phases_config(
        tmp_path, tiny_images, "[{epochs: 1, trainable: head}]", model="{type: mlp, units: [4]}"
    )
    with pytest.raises(ConfigError, match=r"train.phases\[0\].trainable"):
        run_experiment(load_config(config))
    assert not output_dir.exists() or not any(output_dir.iterdir())
