"""`dlrun export`: a SavedModel that reloads with tf.saved_model.load, a TFLite file that runs in
the TFLite interpreter, with the outputs of model.keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.data import load_splits
from dlrun.experiment.run import run_experiment
from dlrun.inference.export import ExportError, tflite_bytes
from dlrun.inference.saved import SavedRun
from tests.conftest import CONFIGS

runner = CliRunner()
# TensorFlow's own TFLite interpreter warns that it moves to ai_edge_litert; it still works.
pytestmark = pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated")


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory: pytest.TempPathFactory) -> SavedRun:
    """A small MLP on a table: 200 rows, a numeric target."""
    folder = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    rows = "\n".join(",".join(f"{v:.6f}" for v in (*r, r @ [3, -2, 1])) for r in x)
    (folder / "table.csv").write_text("a,b,c,y\n" + rows + "\n")
    (folder / "mlp.yaml").write_text(
        "data: {source: csv, path: table.csv, target: y}\n"
        "model: {type: mlp, units: [16, 8]}\n"
        "train: {epochs: 2, jit_compile: false}\nreport: {plots: false}\n"
    )
    outcome = run_experiment(load_config(folder / "mlp.yaml"), output_dir=folder / "outputs")
    return SavedRun.open(outcome.run_dir)


def test_inputs(saved: SavedRun) -> np.ndarray:
    return load_splits(saved.config.data, saved.config.seed).test.x


test_inputs.__test__ = False  # a helper, not a test


def tflite_interpreter(content: bytes):
    """LiteRT's interpreter where installed, else TensorFlow's own (deprecated, still working)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_content=content)


def test_savedmodel_reloads_and_gives_the_same_outputs(mlp_run: SavedRun):
    result = runner.invoke(app, ["export", str(mlp_run.path)])

    assert result.exit_code == 0, result.output
    exported = mlp_run.path / "export" / "savedmodel"
    assert str(exported) in result.stdout
    x = test_inputs(mlp_run)
    reloaded = tf.saved_model.load(str(exported))  # kept: its variables live as long as it does
    served = reloaded.serve(tf.constant(x)).numpy()
    expected = mlp_run.load_model().predict(x, verbose=0)
    assert np.array_equal(served, expected)


def test_exporting_again_replaces_the_export_but_never_another_folder(mlp_run: SavedRun, tmp_path):
    assert runner.invoke(app, ["export", str(mlp_run.path)]).exit_code == 0
    assert runner.invoke(app, ["export", str(mlp_run.path)]).exit_code == 0  # replaced whole
    assert not [p for p in (mlp_run.path / "export").iterdir() if p.name.startswith(".")]

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(mlp_run.path), "--out", str(tmp_path / "notes")])
    assert result.exit_code == 2
    assert "is not a SavedModel, so it is not replaced" in result.stderr
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"


def test_tflite_runs_in_the_tflite_interpreter_with_the_same_outputs(mlp_run: SavedRun, tmp_path):
    target = tmp_path / "mlp.tflite"
    result = runner.invoke(
        app, ["export", str(mlp_run.path), "--format", "tflite", "--out", str(target)]
    )

    assert result.exit_code == 0, result.output
    x = test_inputs(mlp_run)
    interpreter = tflite_interpreter(target.read_bytes())
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(given["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], x)
    interpreter.invoke()
    expected = mlp_run.load_model().predict(x, verbose=0)
    assert np.allclose(interpreter.get_tensor(taken["index"]), expected, rtol=1e-5, atol=1e-5)


def test_text_vectorization_cannot_go_to_tflite_and_says_why():
    inputs = keras.Input(shape=(1,), dtype="string")
    tokens = keras.layers.TextVectorization(vocabulary=["free", "prize"], output_sequence_length=4)
    features = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(4, 2)(tokens(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(1)(features))

    with pytest.raises(ExportError) as caught:
        tflite_bytes(model)

    message = caught.value.describe()
    assert "TFLite cannot run this model" in message and "TextVectorization" in message
    assert "--format savedmodel" in message


def test_a_recurrent_series_model_converts_with_one_example_per_call(tmp_path):
    config = load_config(CONFIGS / "airline_lstm.yaml", ["train.epochs=1", "report.plots=false"])
    saved = SavedRun.open(run_experiment(config, output_dir=tmp_path).run_dir)

    result = runner.invoke(app, ["export", str(saved.path), "--format", "tflite"])

    assert result.exit_code == 0, result.output
    assert "one example per call" in result.stderr
    window = test_inputs(saved)[:1]
    interpreter = tflite_interpreter((saved.path / "export" / "model.tflite").read_bytes())
    interpreter.allocate_tensors()
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.set_tensor(given["index"], window)
    interpreter.invoke()
    expected = saved.load_model().predict(window, verbose=0)
    assert np.allclose(interpreter.get_tensor(taken["index"]), expected, rtol=1e-4)
