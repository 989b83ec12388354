"""`dlrun compare` averaging runs that differ only by seed, and sweep folders among runs."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.analysis.groups import spread
from dlrun.cli import app
from tests.runs.run_folders import default_metrics, write_run

runner = CliRunner()


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    """Three seeds of a 64-unit model, two of a 128-unit one, one run from before dlrun wrote
    group hashes, and a failed seed of the 64-unit model."""
    root = tmp_path / "outputs"
    plan = [
        ("small", [64, 64], 1),
        ("small", [64, 64], 2),
        ("small", [64, 64], 3),
        ("large", [128], 1),
        ("large", [128], 2),
        (None, [256], 1),
    ]
    for index, (group, units, seed) in enumerate(plan):
        info = {"group_hash": group} if group else {}
        write_run(root, index=index, config={"model.units": units, "seed": seed}, info=info)
    write_run(
        root,
        index=6,
        status=runs.FAILED,
        config={"model.units": [64, 64], "seed": 4},
        info={"group_hash": "small"},
    )
    return root


def compare(*args: str) -> str:
    result = runner.invoke(app, ["compare", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_seeds_of_one_config_are_one_row_of_mean_std_and_n(seeded):
    rows = json.loads(compare(str(seeded), "-m", "test_mae", "-f", "json"))

    by_units = {(str(row["model.units"]), row["status"]): row for row in rows}
    assert len(rows) == 4  # small, large, the old run, the failed run
    small = by_units[("[64, 64]", "completed")]
    maes = [default_metrics(i)["test_mae"] for i in (0, 1, 2)]
    assert small["n"] == 3
    assert small["seed"] == [1, 2, 3]
    assert small["test_mae"] == statistics.fmean(maes)
    assert small["test_mae_std"] == pytest.approx(statistics.stdev(maes), rel=1e-12)
    assert small["id"] == "000002 000001 000000"  # newest first
    old = by_units[("[256]", "completed")]
    assert old["n"] == 1 and old["test_mae_std"] is None
    assert old["test_mae"] == default_metrics(5)["test_mae"]
    assert by_units[("[64, 64]", "failed")]["n"] == 1  # not averaged with completed seeds


def test_the_table_shows_mean_plus_minus_std_and_the_best_mean(seeded):
    text = compare(str(seeded), "-m", "test_mae", "-f", "markdown", "--sort", "test_mae")
    lines = text.splitlines()

    assert lines[0].startswith("| id | name | status | n |")
    large = spread([default_metrics(i)["test_mae"] for i in (3, 4)])
    assert large is not None
    # Sorted by the mean, lowest MAE first (in bold); the failed run, without one, last.
    assert "[256]" in lines[2] and f"**{default_metrics(5)['test_mae']:.4g}**" in lines[2]
    assert f"| {large.text()} |" in lines[3]
    assert "| failed |" in lines[-1]


def test_csv_gives_mean_and_std_columns(seeded):
    table = list(csv.DictReader(io.StringIO(compare(str(seeded), "-m", "test_r2", "-f", "csv"))))

    assert {"n", "test_r2", "test_r2_std"} <= set(table[0])
    large = next(row for row in table if row["n"] == "2")
    r2 = [default_metrics(i)["test_r2"] for i in (3, 4)]
    assert float(large["test_r2"]) == statistics.fmean(r2)
    assert float(large["test_r2_std"]) == pytest.approx(statistics.stdev(r2), rel=1e-12)


def test_per_run_shows_every_run_and_no_groups_means_the_usual_table(seeded, tmp_path):
    per_run = json.loads(compare(str(seeded), "--per-run", "-f", "json"))
    assert len(per_run) == 7
    assert "n" not in per_run[0]

    lone = tmp_path / "lone"
    for index, group in enumerate(["a", "b"]):
        write_run(lone, index=index, config={"seed": index}, info={"group_hash": group})
    assert "n" not in json.loads(compare(str(lone), "-f", "json"))[0]


def test_sweep_members_are_runs_of_the_output_root_and_a_sweep_id_names_them(tmp_path, monkeypatch):
    root = tmp_path / "outputs"
    sweep = runs.create_sweep_folder(root, "wine")
    runs.write_sweep(sweep.path, {"name": "wine", "members": []})
    for index in range(2):
        write_run(sweep.path, index=index, config={"seed": index}, info={"group_hash": "g"})
    write_run(root, index=5)
    monkeypatch.setenv("DLRUN_OUTPUT_DIR", str(root))

    listed = json.loads(runner.invoke(app, ["runs", "-f", "json"]).stdout)
    assert sorted(row["id"] for row in listed) == ["000000", "000001", "000005"]
    members = json.loads(compare(sweep.id, "--per-run", "-f", "json"))
    assert sorted(row["id"] for row in members) == ["000000", "000001"]
    assert json.loads(compare(str(sweep.path), "-f", "json"))[0]["n"] == 2
    diff = runner.invoke(app, ["diff", "000000", "000001", "--json"])
    assert diff.exit_code == 0, diff.output
