"""`dlrun data prepare`: the disk cache written before training, then used by `dlrun train`."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dlrun.cli import app
from tests.conftest import write_config

runner = CliRunner()


def test_prepare_writes_the_cache_that_training_then_maps(tmp_path, tiny_table, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("DLRUN_CACHE_DIR", str(cache))
    config = write_config(
        tmp_path,
        f"data: {{source: csv, path: {tiny_table}, target: y, features: [a, b]}}\n"
        "model: {type: mlp, units: [4]}\ntrain: {epochs: 1}\nreport: {plots: false}\n",
    )
    prepared = runner.invoke(app, ["data", "prepare", str(config), "--json"])
    assert prepared.exit_code == 0, prepared.output
    record = json.loads(prepared.stdout)
    assert record["sizes"] == {"train": 162, "validation": 18, "test": 20}  # of 200 rows
    (entry,) = cache.iterdir()

    trained = runner.invoke(app, ["train", str(config), "--set", "data.cache=disk", "--json"])
    assert trained.exit_code == 0, trained.output
    run_dir = Path(json.loads(trained.stdout)["run_dir"])
    assert list(cache.iterdir()) == [entry]  # mapped, not written again
    info = json.loads((run_dir / "run.json").read_text())
    assert info["data_fingerprint"] == record["data_fingerprint"]


def test_prepare_names_a_source_without_a_cache(tmp_path):
    config = write_config(tmp_path, "data: {source: mnist}\nmodel: {type: mlp}\n")
    result = runner.invoke(app, ["data", "prepare", str(config)])
    assert result.exit_code == 2
    assert "data.source mnist has no disk cache yet" in result.stderr


def test_prepare_reports_each_long_pass_with_its_rate(tmp_path, tiny_table, monkeypatch):
    from dlrun.cli.output import DataPassBars

    monkeypatch.setenv("DLRUN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(DataPassBars, "SHOWN_AFTER_S", 0.0)  # tiny data: every pass is "long"
    config = write_config(
        tmp_path,
        f"data: {{source: csv, path: {tiny_table}, target: y, features: [a, b]}}\n"
        "model: {type: mlp, units: [4]}\n",
    )
    result = runner.invoke(app, ["data", "prepare", str(config)])
    assert result.exit_code == 0, result.output
    assert "reading the table: 200 rows in" in result.stderr
    assert "encoding: 200 rows in" in result.stderr
    assert "rows/s)" in result.stderr
