"""`dlrun predict` from raw inputs: texts for the SMS model, images from a folder."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.experiment.run import run_experiment
from tests.conftest import CONFIGS

runner = CliRunner()
SPAM = "WINNER!! You have won a FREE prize. Call 09061701461 now to claim, txt STOP to end"
HAM = "Sorry I'll be late, see you at lunch"


@pytest.fixture(scope="module")
def sms_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SMS example config, cut down to train in a few seconds (its data, its model kind)."""
    overrides = [
        "train.epochs=2",
        "data.limit=1500",
        "data.max_tokens=3000",
        "model.units=[16]",
        "model.embedding_dim=16",
        "model.bidirectional=false",
        "report.plots=false",
    ]
    config = load_config(CONFIGS / "sms_spam_lstm.yaml", overrides)
    output = tmp_path_factory.mktemp("sms") / "outputs"
    return run_experiment(config, output_dir=output).run_dir


def test_predict_raw_text_with_the_sms_model(sms_run: Path):
    result = runner.invoke(app, ["predict", str(sms_run), "--text", SPAM, "--text", HAM])

    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(io.StringIO(result.stdout))  # --text prints the CSV
    assert list(predictions.columns) == ["id", "prediction", "prob_0", "prob_1"]
    assert list(predictions["prediction"]) == [1, 0]  # spam, ham
    # The same numbers as the saved model itself gives for the raw strings.
    keras.config.disable_interactive_logging()
    import dlrun.models.layers  # noqa: F401

    model = keras.models.load_model(sms_run / "model.keras")
    direct = model.predict(tf.constant([[SPAM], [HAM]]), verbose=0)[:, 0]
    assert np.allclose(predictions["prob_1"], direct, atol=1e-6)


def test_evaluate_the_text_run_reproduces_its_test_metrics(sms_run: Path):
    result = runner.invoke(app, ["evaluate", str(sms_run), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["matches_run_test_metrics"] is True
    metrics = json.loads((sms_run / "metrics.json").read_text())
    assert report["metrics"]["accuracy"] == metrics["test_accuracy"]


def test_predict_a_csv_of_texts_by_the_runs_text_column(sms_run: Path, tmp_path: Path):
    pd.DataFrame({"body": [SPAM, HAM], "spam": [1, 0]}).to_csv(tmp_path / "sms.csv", index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app, ["predict", str(sms_run), str(tmp_path / "sms.csv"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    assert list(predictions["actual"]) == [1, 0]
    assert list(predictions["prediction"]) == [1, 0]


def write_png(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(pixels.astype(np.uint8)[..., None]).numpy())


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Dark and light 12x12 images in class folders, and a run trained on them at 8x8."""
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for index in range(24):
        write_png(folder / "photos" / "dark" / f"{index}.png", rng.integers(0, 60, (12, 12)))
        write_png(folder / "photos" / "light" / f"{index}.png", rng.integers(190, 255, (12, 12)))
    config = folder / "photos.yaml"
    config.write_text(
        "data: {source: image_dir, path: photos, image_size: [8, 8], color_mode: grayscale}\n"
        "model: {type: mlp, units: []}\n"
        "train: {epochs: 10, jit_compile: false, optimizer: {name: adam, learning_rate: 0.1}}\n"
        "report: {plots: false}\n"
    )
    run_dir = run_experiment(load_config(config), output_dir=folder / "outputs").run_dir
    return run_dir, folder / "photos"


def test_predict_a_folder_of_images_resized_as_in_training(photos, tmp_path: Path):
    run_dir, folder = photos
    out = tmp_path / "photos.csv"

    result = runner.invoke(app, ["predict", str(run_dir), str(folder), "-o", str(out)])

    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    assert len(predictions) == 48
    assert list(predictions.columns) == ["id", "prediction", "prob_dark", "prob_light"]
    folders = predictions["id"].str.split("/").str[0]  # ids are paths inside the folder
    assert (predictions["prediction"] == folders).all()


def test_images_are_predicted_and_evaluated_a_chunk_at_a_time(photos, tmp_path, monkeypatch):
    # Chunks of 5 images (8x8 grayscale: 256 bytes of float32 each), decoded 5 at a time: the
    # 48 images take 10 chunks and give what one chunk gives.
    from dlrun.data import image_dir
    from dlrun.inference import images, predict
    from dlrun.inference.evaluate import evaluate
    from dlrun.inference.saved import SavedRun

    run_dir, trained_on = photos
    folder = shutil.copytree(trained_on, tmp_path / "photos")  # other data, not the run's own
    saved = SavedRun.open(run_dir)
    whole = predict.predict(saved, folder).table
    evaluated = evaluate(saved, folder, save=False)
    monkeypatch.setattr(image_dir, "DECODE_BATCH", 5)
    monkeypatch.setattr(images, "CHUNK_BYTES", 5 * 8 * 8 * 4)
    chunks = list(predict.predict_in_chunks(saved, folder))
    assert [len(chunk.table) for chunk in chunks] == [5] * 9 + [3]
    joined = pd.concat([chunk.table for chunk in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(joined, whole)
    chunked = evaluate(saved, folder, save=False)
    assert chunked.examples == evaluated.examples == 48
    assert chunked.metrics["per_class"] == evaluated.metrics["per_class"]
    scalars = [name for name, value in evaluated.metrics.items() if isinstance(value, float)]
    assert {name: chunked.metrics[name] for name in scalars} == pytest.approx(
        {name: evaluated.metrics[name] for name in scalars}, rel=1e-6
    )
    assert chunked.metrics["accuracy"] == 1.0  # dark and light apart, as trained


def test_text_for_a_model_that_does_not_read_text_is_an_error(photos):
    result = runner.invoke(app, ["predict", str(photos[0]), "--text", "hello"])
    assert result.exit_code == 2
    assert "--text needs a model trained on text, but this run's data is images" in result.stderr
