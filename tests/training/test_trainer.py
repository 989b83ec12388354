"""The training step's Keras lookups and settings, without a run folder."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlrun.config.schema import OptimizerConfig, TrainConfig
from dlrun.core.errors import ConfigError
from dlrun.training import trainer


def test_optimizer_by_name_with_its_own_arguments():
    optimizer = trainer.build_optimizer(
        OptimizerConfig(name="sgd", learning_rate=0.05, momentum=0.9, nesterov=True), total_steps=10
    )
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert optimizer.momentum == 0.9
    assert optimizer.nesterov is True
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


def test_unknown_optimizer_lists_the_ones_keras_knows():
    with pytest.raises(ConfigError) as error:
        trainer.build_optimizer(OptimizerConfig(name="adamm"), total_steps=10)
    message = str(error.value)
    assert "unknown optimizer 'adamm'" in message
    assert "Did you mean 'adam'?" in message
    for name in ("sgd", "rmsprop", "adagrad", "adamw"):
        assert name in message


def test_misspelt_optimizer_argument_is_reported_against_the_config_key():
    with pytest.raises(ConfigError, match=r"train\.optimizer.*invalid arguments for SGD"):
        trainer.build_optimizer(OptimizerConfig(name="sgd", momentun=0.9), total_steps=10)


def test_cosine_schedule_decays_over_the_whole_run_by_default():
    config = OptimizerConfig.model_validate(
        {"name": "adam", "learning_rate": 0.1, "schedule": {"type": "cosine"}}
    )
    optimizer = trainer.build_optimizer(config, total_steps=100)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    optimizer.iterations.assign(50)
    assert float(optimizer.learning_rate) == pytest.approx(0.05, abs=1e-6)
    optimizer.iterations.assign(100)
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-6)


def test_unknown_loss_and_metric_are_config_errors():
    with pytest.raises(ConfigError, match="unknown loss 'msee'"):
        trainer.compile_arguments("msee", [])
    with pytest.raises(ConfigError, match=r"train\.metrics\[1\].*unknown metric 'acuracy'"):
        trainer.compile_arguments("mse", ["mae", "acuracy"])


def test_rmse_is_logged_under_its_short_name():
    arguments = trainer.compile_arguments("mse", ["rmse", "mae"])
    rmse, mae = arguments["metrics"]
    assert isinstance(rmse, keras.metrics.RootMeanSquaredError)
    assert rmse.name == "rmse"
    assert mae.name == "mae"


def test_balanced_class_weights_are_inverse_frequencies():
    y = np.array([0, 0, 0, 1])
    weights = trainer.class_weights("balanced", y, num_classes=2)
    assert weights == pytest.approx({0: 4 / 6, 1: 2.0})


def test_class_weights_for_missing_classes_are_rejected():
    with pytest.raises(ConfigError, match="classes that do not exist: \\[7\\]"):
        trainer.class_weights({7: 2.0}, np.array([0, 1]), num_classes=2)


def test_early_stopping_must_monitor_something_training_logs():
    config = TrainConfig.model_validate({"early_stopping": {"monitor": "val_acc"}})
    logged = trainer.logged_names(["accuracy"], has_validation=True)
    with pytest.raises(ConfigError, match="Did you mean 'val_accuracy'"):
        trainer.early_stopping(config, logged)


def test_predict_holds_one_batch_at_a_time_and_matches_keras():
    import tensorflow as tf

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="mse", steps_per_execution=8)  # Keras's predict would pull 8 at once
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    pulled = []

    def batches():
        for start in range(0, 50, 4):
            pulled.append(start)
            yield x[start : start + 4], np.zeros(len(x[start : start + 4]))

    dataset = tf.data.Dataset.from_generator(
        batches,
        output_signature=(
            tf.TensorSpec((None, 3), tf.float32),
            tf.TensorSpec((None,), tf.float64),
        ),
    )
    calls = []
    model_predict_on_batch = model.predict_on_batch

    def counting(batch):
        calls.append(len(pulled))
        return model_predict_on_batch(batch)

    model.predict_on_batch = counting
    outputs = trainer.predict(model, dataset)
    np.testing.assert_allclose(outputs, model.predict(x, verbose=0), rtol=1e-6)
    # The k-th batch is predicted when at most k + 2 have been read (tf.data reads a little
    # ahead); Keras's own predict would have read 8 before predicting the first.
    assert len(calls) == 13 and all(read <= k + 2 for k, read in enumerate(calls, 1))
