"""One run end to end on tiny data: what lands in the run folder, and what happens on failure."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from dlrun import runs
from dlrun.config import load_config
from dlrun.core.errors import ConfigError, DataError, TrainingFailed
from dlrun.experiment.run import run_experiment
from tests.conftest import CLASSIFICATION_RUN_FILES, write_config, write_tiny_images


def image_config(tmp_path: Path, images: dict[str, Path], extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
name: tiny_images
seed: 3
data: {{source: idx, images: {images["images"].name}, labels: {images["labels"].name},
        validation_split: 0.2, test_split: 0.2}}
model: {{type: mlp, units: [16]}}
train: {{epochs: 3, batch_size: 8, optimizer: {{name: adam, learning_rate: 0.01}}}}
{extra}
""",
    )


def table_config(tmp_path: Path, table: Path, target: str, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
name: tiny_table
data: {{source: csv, path: {table.name}, target: {target}, features: [a, b, colour]}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 4, batch_size: 32, optimizer: {{name: adam, learning_rate: 0.01}}}}
{extra}
""",
        name=f"{target}.yaml",
    )


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """One run of the default image config on the `tiny_images` data, shared by the tests that
    only read what it wrote (each training it again cost the fast loop half a minute).

    Returns the outcome, the config file and the output root the run went to."""
    folder = tmp_path_factory.mktemp("image_run")
    config_path = image_config(folder, write_tiny_images(folder))
    output_dir = folder / "outputs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLRUN_OUTPUT_DIR", str(output_dir))
        outcome = run_experiment(
            load_config(config_path), config_path=config_path, command=["dlrun"]
        )
    return outcome, config_path, output_dir


def test_a_run_folder_holds_every_promised_file(image_run):
    outcome, _, output_dir = image_run

    assert outcome.status == "completed"
    assert outcome.run_dir.parent == output_dir
    files = {p.name for p in outcome.run_dir.iterdir()}
    assert files >= CLASSIFICATION_RUN_FILES
    assert not [name for name in files if name.endswith(".tmp")]


def test_metrics_hold_train_validation_test_and_baseline(image_run):
    outcome, _, _ = image_run
    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())

    assert metrics["schema_version"] == runs.SCHEMA_VERSION
    for key in (
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "test_loss",
        "test_accuracy",
        "baseline_test_accuracy",
        "epochs_run",
        "param_count",
        "train_time_s",
    ):
        assert key in metrics, key
    assert metrics["epochs_run"] == 3
    # 3 balanced classes: always guessing one is right a third of the time.
    assert metrics["baseline_test_accuracy"] == pytest.approx(1 / 3, abs=0.01)
    assert metrics["test_accuracy"] > 0.9  # the classes differ in brightness: easy
    # Which way is better comes from the Keras metric objects, not from their names.
    assert metrics["metric_directions"] == {"loss": "lower", "accuracy": "higher"}


def test_history_has_a_row_per_epoch_with_train_and_validation_columns(image_run):
    outcome, _, _ = image_run
    history = pd.read_csv(outcome.run_dir / "history.csv")

    assert list(history["epoch"]) == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "samples_per_s"} <= set(history.columns)


def test_run_json_records_status_versions_and_data_fingerprint(image_run):
    outcome, _, _ = image_run
    info = json.loads((outcome.run_dir / "run.json").read_text())

    assert info["status"] == "completed"
    assert info["ended_at"] >= info["started_at"]
    assert info["seed"] == 3
    assert set(info["versions"]) >= {"dlrun", "tensorflow", "keras", "python"}
    assert info["device"].startswith(("CPU", "GPU"))
    assert len(info["data_fingerprint"]) == 16
    # Stratified: 20% of each class (40 rows each) for test, then 20% of the rest per class.
    assert info["data_sizes"] == {"train": 78, "validation": 18, "test": 24}
    # The JSON copy `compare` reads instead of parsing config.yaml.
    assert info["config"] == yaml.safe_load((outcome.run_dir / "config.yaml").read_text())


def test_the_saved_config_is_the_resolved_one_and_loads_again(image_run):
    outcome, _, _ = image_run
    saved = yaml.safe_load((outcome.run_dir / "config.yaml").read_text())

    assert saved["train"]["loss"] == "sparse_categorical_crossentropy"
    assert saved["train"]["metrics"] == ["accuracy"]
    assert saved["model"]["activation"] == "relu"
    assert (
        load_config(outcome.run_dir / "config.yaml").model_dump()
        == load_config(outcome.run_dir / "config.yaml").model_dump()
    )


def test_model_keras_reloads_and_reproduces_test_accuracy(image_run):
    outcome, _, _ = image_run
    model = keras.models.load_model(outcome.run_dir / "model.keras")
    assert model.input_shape == (None, 8, 8, 1)
    assert model.output_shape == (None, 3)


@pytest.fixture
def op_determinism():
    """`train.deterministic: true` turns TensorFlow's op determinism on for the whole process;
    turn it off again so later tests run as users' default runs do."""
    yield
    from tensorflow.python.framework.config import disable_op_determinism

    disable_op_determinism()


def test_seed_and_deterministic_give_the_same_metrics_bit_for_bit(
    tmp_path, tiny_images, op_determinism
):
    config = load_config(
        image_config(tmp_path, tiny_images, "report: {plots: false, save_model: false}"),
        ["train.deterministic=true"],
    )
    first, second = run_experiment(config), run_experiment(config)

    timing = ["epoch_time_s", "samples_per_s"]
    histories = [
        pd.read_csv(run.run_dir / "history.csv").drop(columns=timing) for run in (first, second)
    ]
    pd.testing.assert_frame_equal(*histories, check_exact=True)  # not merely close: equal
    for key in ("test_loss", "test_accuracy", "baseline_test_loss", "loss", "val_loss"):
        assert first.metrics[key] == second.metrics[key], key


def test_a_two_class_target_gets_a_sigmoid_and_binary_cross_entropy(tmp_path, tiny_table):
    # a + b > 0 is linearly separable: 20 short epochs learn it whatever the batch order.
    config = load_config(table_config(tmp_path, tiny_table, "label"), ["train.epochs=20"])
    outcome = run_experiment(config)
    saved = yaml.safe_load((outcome.run_dir / "config.yaml").read_text())

    assert saved["data"]["task"] == "classification"
    assert saved["train"]["loss"] == "binary_crossentropy"
    assert outcome.metrics["test_accuracy"] > 0.8


def test_regression_is_inferred_and_beats_the_mean(tmp_path, tiny_table):
    outcome = run_experiment(load_config(table_config(tmp_path, tiny_table, "y")))

    assert outcome.metrics["baseline"] == "training mean"
    assert outcome.metrics["test_mae"] < outcome.metrics["baseline_test_mae"]


def test_early_stopping_keeps_the_best_epoch_and_reports_it(tmp_path, tiny_table):
    extra = (
        "train: {epochs: 30, batch_size: 32, optimizer: {name: adam, learning_rate: 0.3}, "
        "early_stopping: {monitor: val_loss, patience: 2}}"
    )
    config = table_config(tmp_path, tiny_table, "y")
    text = config.read_text().replace(
        "train: {epochs: 4, batch_size: 32, optimizer: {name: adam, learning_rate: 0.01}}", extra
    )
    config.write_text(text)
    outcome = run_experiment(load_config(config))
    history = pd.read_csv(outcome.run_dir / "history.csv")
    kept = outcome.metrics["kept_epoch"]

    assert kept == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert outcome.metrics["val_loss"] == pytest.approx(history["val_loss"].min())


def test_a_diverging_run_is_marked_failed_with_advice(tmp_path, tiny_table, output_dir):
    config = load_config(
        table_config(tmp_path, tiny_table, "y"),
        ["train.optimizer.name=sgd", "train.optimizer.learning_rate=10", "train.epochs=50"],
    )
    with pytest.raises(TrainingFailed, match="learning_rate") as error:
        run_experiment(config)

    info = json.loads((error.value.run_dir / "run.json").read_text())
    assert info["status"] == "failed"
    assert "loss became" in info["error"]
    assert len(pd.read_csv(error.value.run_dir / "history.csv")) < 50


def test_bad_input_fails_before_any_run_folder_exists(tmp_path, tiny_images, output_dir):
    config = load_config(image_config(tmp_path, tiny_images), ["train.optimizer.name=adamm"])
    with pytest.raises(ConfigError, match="unknown optimizer"):
        run_experiment(config)
    assert not output_dir.exists() or not any(output_dir.iterdir())


def test_missing_data_file_names_the_path(tmp_path, tiny_table):
    config = load_config(table_config(tmp_path, tiny_table, "y"), ["data.path=nowhere.csv"])
    with pytest.raises(DataError, match=r"nowhere\.csv"):
        run_experiment(config)


def test_class_weights_train(tmp_path, tiny_images):
    config = load_config(image_config(tmp_path, tiny_images), ["train.class_weight=balanced"])
    assert run_experiment(config).status == "completed"


def test_predictions_of_the_saved_model_match_its_test_accuracy(image_run):
    from dlrun.data import load_splits

    outcome, config_path, _ = image_run
    config = load_config(config_path)
    model = keras.models.load_model(outcome.run_dir / "model.keras")
    test = load_splits(config.data, config.seed).test
    accuracy = float(np.mean(model.predict(test.x, verbose=0).argmax(axis=1) == test.y))
    assert accuracy == pytest.approx(outcome.metrics["test_accuracy"], abs=1e-6)


def test_mixed_precision_keeps_the_output_float32_and_does_not_leak(tmp_path, tiny_images):
    from dlrun.experiment.prepare import data_and_model

    config = load_config(
        image_config(tmp_path, tiny_images),
        ["train.precision=mixed_bfloat16", "model={type: cnn, filters: [4], dense: [8]}"],
    )
    _, model = data_and_model(config)
    assert model.get_layer("output").compute_dtype == "float32"
    assert any(layer.compute_dtype == "bfloat16" for layer in model.layers)
    assert keras.config.dtype_policy().name == "float32"
    assert run_experiment(config).metrics["test_accuracy"] > 0.5


@pytest.mark.slow  # four trainings; bf16 alone is trained in the fast subset above
@pytest.mark.parametrize(
    ("model", "fast"),
    [
        ("{type: mlp, units: [16]}", ["train.steps_per_execution=8", "train.jit_compile=true"]),
        (
            "{type: cnn, filters: [8], dense: [16], dropout: 0.0}",
            ["train.steps_per_execution=8", "train.precision=mixed_bfloat16"],
        ),
    ],
    ids=["mlp-xla", "cnn-bf16"],
)
def test_speed_options_do_not_change_results_beyond_noise(tmp_path, tiny_images, model, fast):
    base = [f"model={model}", "train.batch_size=4", "train.epochs=4"]
    plain = ["train.steps_per_execution=1", "train.jit_compile=false", "train.precision=float32"]
    config = image_config(tmp_path, tiny_images)
    slow = run_experiment(load_config(config, base + plain)).metrics
    quick = run_experiment(load_config(config, base + fast)).metrics
    assert quick["test_accuracy"] == pytest.approx(slow["test_accuracy"], abs=0.1)
    assert quick["test_loss"] == pytest.approx(slow["test_loss"], abs=0.1)
    assert quick["loss"] == pytest.approx(slow["loss"], abs=0.1)


def test_auto_speed_settings_are_resolved_into_the_saved_config(tmp_path, tiny_images):
    outcome = run_experiment(
        load_config(image_config(tmp_path, tiny_images), ["train.batch_size=4"])
    )
    saved = yaml.safe_load((outcome.run_dir / "config.yaml").read_text())["train"]
    # 78 training images in batches of 4: 20 steps, so auto runs 20 // 4 = 5 per call.
    assert saved["steps_per_execution"] == 5
    assert saved["jit_compile"] is False  # an MLP, but far too short a run to earn back XLA
    assert saved["precision"] == "float32"
    assert outcome.metrics["time_to_first_step_s"] > 0
    info = json.loads((outcome.run_dir / "run.json").read_text())
    assert info["peak_rss_mb"] > 100


def test_auto_xla_is_for_long_dense_runs_on_a_cpu_only():
    from dlrun.experiment.resolve import XLA_MIN_EXAMPLES, resolve_jit_compile
    from dlrun.models import models

    mlp = models.get("mlp").params()
    cnn = models.get("cnn").params()
    assert resolve_jit_compile("auto", mlp, False, XLA_MIN_EXAMPLES) is True
    assert resolve_jit_compile("auto", mlp, False, XLA_MIN_EXAMPLES - 1) is False
    assert resolve_jit_compile("auto", cnn, False, 10 * XLA_MIN_EXAMPLES) is False
    assert resolve_jit_compile("auto", mlp, True, 10 * XLA_MIN_EXAMPLES) is False  # deterministic
    assert resolve_jit_compile(True, cnn, False, 1) is True
