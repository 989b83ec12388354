"""`dlrun evaluate` and `dlrun predict` on a trained table run: the run's own preprocessing, and
its test metrics back exactly.

One small classification run is trained once for the module (a few seconds); every test reuses
its folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.data import load_splits
from dlrun.data.base import Split
from dlrun.data.split import carve
from dlrun.experiment.run import run_experiment
from dlrun.inference.inputs import encode_table
from dlrun.inference.saved import SavedRun

runner = CliRunner()
SEED, TEST_SPLIT = 5, 0.2


@dataclass(frozen=True)
class Trained:
    run_dir: Path
    table: Path
    config: Path
    metrics: dict


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A two-class table (two numeric columns and a text one), 300 rows, a small MLP."""
    folder = tmp_path_factory.mktemp("evaluate")
    rng = np.random.default_rng(0)
    a, b = rng.normal(5, 2, size=300), rng.normal(-1, 3, size=300)
    table = folder / "table.csv"
    pd.DataFrame(
        {
            "a": a,
            "b": b,
            "colour": rng.choice(["red", "green", "blue"], size=300),
            "label": np.where(a - 5 + (b + 1) / 3 + rng.normal(0, 0.5, size=300) > 0, "yes", "no"),
        }
    ).to_csv(table, index=False)
    config = folder / "label.yaml"
    config.write_text(
        f"""
seed: {SEED}
data: {{source: csv, path: table.csv, target: label, test_split: {TEST_SPLIT}}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 3, batch_size: 16, optimizer: {{name: adam, learning_rate: 0.01}}}}
"""
    )
    outcome = run_experiment(load_config(config), output_dir=folder / "outputs")
    return Trained(outcome.run_dir, table, config, outcome.metrics)


def test_rows(trained: Trained) -> pd.DataFrame:
    """The rows the csv source held out for the test: the same seeded, stratified split."""
    table = pd.read_csv(trained.table)
    labels = np.unique(table["label"], return_inverse=True)[1]
    _, test = carve(Split(np.arange(len(table)), labels), TEST_SPLIT, seed=SEED, stratify=True)
    return table.iloc[test.x]


test_rows.__test__ = False  # a helper, not a test


def evaluate(*args: str) -> dict:
    result = runner.invoke(app, ["evaluate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_runs_own_test_split_gives_its_test_metrics_back_exactly(trained: Trained):
    metrics_file = trained.run_dir / "metrics.json"
    before = metrics_file.read_bytes()

    report = evaluate(str(trained.run_dir))

    run_test = {
        k.removeprefix("test_"): v for k, v in trained.metrics.items() if k.startswith("test_")
    }
    assert len(run_test) >= 6  # loss, accuracy, macro scores, AUC, average precision
    for name, value in run_test.items():
        assert report["metrics"][name] == value, name  # equal, not approximately
    assert report["metrics"]["per_class"] == trained.metrics["per_class"]
    assert report["matches_run_test_metrics"] is True
    assert report["split"] == "test" and report["examples"] == 60
    # Saved beside the run's own files, which stay as they were.
    saved = Path(report["saved_to"])
    assert saved.parent == trained.run_dir / "evaluations" and saved.name.endswith("-test.json")
    assert json.loads(saved.read_text())["metrics"] == report["metrics"]
    assert metrics_file.read_bytes() == before


def test_a_csv_of_the_test_rows_is_encoded_with_the_runs_statistics(trained: Trained, tmp_path):
    rows = test_rows(trained)
    rows.to_csv(tmp_path / "test_rows.csv", index=False)
    saved = SavedRun.open(trained.run_dir)

    # The same inputs, bit for bit, as the split the run was tested on...
    rebuilt = load_splits(saved.config.data, saved.config.seed).test
    encoded, _ = encode_table(rows, saved.info, tmp_path / "test_rows.csv")
    assert np.array_equal(encoded, rebuilt.x)
    # ...though these rows alone have other statistics, which must not be used.
    assert rows["a"].mean() != pytest.approx(
        saved.info["preprocessing"]["standardize"]["a"]["mean"]
    )

    report = evaluate(str(trained.run_dir), "--data", str(tmp_path / "test_rows.csv"))
    assert report["split"] == "all" and report["examples"] == len(rows)
    assert report["metrics"]["accuracy"] == trained.metrics["test_accuracy"]
    assert report["metrics"]["loss"] == trained.metrics["test_loss"]


def test_predict_on_a_csv_of_the_test_rows_has_the_runs_test_accuracy(trained: Trained, tmp_path):
    rows = test_rows(trained).drop(columns="label").assign(label=test_rows(trained)["label"])
    rows.to_csv(tmp_path / "test_rows.csv", index=False)
    out = tmp_path / "predictions.csv"

    result = runner.invoke(
        app, ["predict", str(trained.run_dir), str(tmp_path / "test_rows.csv"), "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    assert list(predictions.columns) == ["id", "prediction", "actual", "prob_no", "prob_yes"]
    assert list(predictions["id"]) == list(range(len(rows)))
    accuracy = (predictions["prediction"] == predictions["actual"]).mean()
    assert accuracy == pytest.approx(trained.metrics["test_accuracy"], abs=1e-6)
    assert np.allclose(predictions["prob_no"] + predictions["prob_yes"], 1.0)


def test_a_table_is_predicted_chunk_by_chunk_as_it_is_whole(trained: Trained, tmp_path):
    # Bounded memory for any size: 7-row chunks here, so the 60 rows take 9 of them.
    from dlrun.inference import predict

    rows = test_rows(trained)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet", row_group_size=25)
    saved = SavedRun.open(trained.run_dir)
    whole = predict.predict(saved, tmp_path / "rows.csv").table
    for file in ("rows.csv", "rows.parquet"):
        chunks = list(predict.predict_in_chunks(saved, tmp_path / file, rows=7))
        assert len(chunks) == (9 if file == "rows.csv" else 10)  # parquet: per row group
        joined = pd.concat([chunk.table for chunk in chunks], ignore_index=True)
        pd.testing.assert_frame_equal(joined, whole)  # ids run on across chunks


def test_other_data_is_evaluated_chunk_by_chunk_never_read_whole(
    trained: Trained, tmp_path, monkeypatch
):
    # 7-row chunks, while the run's batches hold 16 rows: the metrics are still exactly the
    # run's test metrics, from a CSV and from Parquet, and no reader of whole files is called.
    from dlrun.data import tabular
    from dlrun.inference import inputs

    def read_whole(*args):
        raise AssertionError("the whole file was read")

    sizes: list[int] = []
    encode = inputs.encode_table

    def encode_counting(table, *args):
        sizes.append(len(table))
        return encode(table, *args)

    monkeypatch.setattr(inputs, "CHUNK_ROWS", 7)
    monkeypatch.setattr(tabular, "read_table", read_whole)
    monkeypatch.setattr(inputs, "encode_table", encode_counting)
    rows = test_rows(trained)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    rows.to_parquet(tmp_path / "rows.parquet", row_group_size=25)
    for file in ("rows.csv", "rows.parquet"):
        sizes.clear()
        report = evaluate(str(trained.run_dir), "--data", str(tmp_path / file))
        assert report["examples"] == 60 and max(sizes) == 7 and sum(sizes) == 2 * 60  # 2 reads
        assert report["metrics"]["accuracy"] == trained.metrics["test_accuracy"]
        assert report["metrics"]["loss"] == pytest.approx(trained.metrics["test_loss"], 1e-6)
        assert report["metrics"]["per_class"] == trained.metrics["per_class"]


def test_predict_reads_a_parquet_file_from_the_command_line(trained: Trained, tmp_path):
    test_rows(trained).to_parquet(tmp_path / "rows.parquet")
    out = tmp_path / "predictions.csv"
    result = runner.invoke(
        app, ["predict", str(trained.run_dir), str(tmp_path / "rows.parquet"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    accuracy = (predictions["prediction"] == predictions["actual"]).mean()
    assert accuracy == pytest.approx(trained.metrics["test_accuracy"], abs=1e-6)


def test_other_splits_of_the_runs_own_data(trained: Trained):
    sizes = json.loads((trained.run_dir / "run.json").read_text())["data_sizes"]
    validation = evaluate(str(trained.run_dir), "--split", "validation")
    everything = evaluate(str(trained.run_dir), "--split", "all")
    assert validation["examples"] == sizes["validation"]
    assert everything["examples"] == sum(sizes.values()) == 300
    assert validation["matches_run_test_metrics"] is None  # nothing to compare with
    assert len(list((trained.run_dir / "evaluations").iterdir())) >= 2  # none overwritten


def test_data_changed_since_training_is_refused(trained: Trained):
    original = trained.table.read_text()
    table = pd.read_csv(trained.table)
    table.assign(a=table["a"] + 1).to_csv(trained.table, index=False)  # every row moved
    try:
        result = runner.invoke(app, ["evaluate", str(trained.run_dir)])
    finally:
        trained.table.write_text(original)
    assert result.exit_code == 2
    assert "no longer gives the preprocessing the run trained with" in result.stderr
    assert "data.json" in result.stderr and "--data" in result.stderr


def test_a_class_the_model_does_not_know_is_an_error(trained: Trained, tmp_path):
    rows = test_rows(trained).assign(label="maybe")
    rows.to_csv(tmp_path / "odd.csv", index=False)
    result = runner.invoke(
        app, ["evaluate", str(trained.run_dir), "--data", str(tmp_path / "odd.csv")]
    )
    assert result.exit_code == 2
    assert "no class for: maybe" in result.stderr and "no, yes" in result.stderr


def test_split_applies_only_to_the_runs_own_data(trained: Trained, tmp_path):
    other = tmp_path / "other.csv"
    other.write_text(trained.table.read_text())
    args = ["evaluate", str(trained.run_dir), "--data", str(other), "--split", "test"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "--split test applies to the run's own data" in result.stderr


def test_a_run_id_that_does_not_exist_is_exit_2_without_tensorflow_work(trained: Trained):
    result = runner.invoke(app, ["evaluate", str(trained.run_dir.parent / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr
