"""The run index (`dlrun.runs.index`): what `runs` and `compare` show is what the folders say,
whether the index is fresh, stale, missing, corrupt or unusable; it is rebuilt once; several
processes recording runs at once leave it whole and up to date."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlrun import runs
from dlrun.analysis.compare import apply_filter, sort_runs
from dlrun.cli import app
from dlrun.runs import index
from dlrun.runs.discovery import run_folders
from tests.runs.run_folders import default_metrics, write_run

runner = CliRunner()

COMMANDS = [
    ("runs",),
    ("runs", "--format", "json"),
    ("compare",),
    ("compare", "--format", "json", "--all-params"),
    ("compare", "--filter", "model.units == [64, 64] and (test_mae < 0.55 or seed in [2, 3])"),
    ("compare", "--sort", "-test_mae", "--format", "csv"),
    ("compare", "--filter", "status != 'completed' or per_class.a.f1 > 0.5", "--per-run"),
]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """Runs of every kind a reader meets: completed (one with a NaN metric), failed, running
    with a dead pid (crashed), a sweep's members, a folder without run.json, an unreadable
    run.json; configs from config.yaml (older runs) and from run.json's copy."""
    out = tmp_path / "outputs"
    for i in range(6):
        metrics = {**default_metrics(i), "per_class": {"a": {"f1": i / 10}}}
        write_run(out, index=i, config={"seed": i % 3}, metrics=metrics)
    write_run(out, index=6, metrics={**default_metrics(6), "test_r2": math.nan})
    write_run(out, index=7, status=runs.FAILED, config={"model.units": [8]})
    write_run(out, index=8, status=runs.RUNNING, info={"pid": 2**22 + 7})
    sweep = out / "20261120-120000-sweep-grid-abcdef"
    sweep.mkdir()
    (sweep / runs.SWEEP_FILE).write_text("{}")
    for i in range(9, 11):
        write_run(sweep, index=i, config={"train.optimizer.learning_rate": 0.1 * i})
    started = write_run(out, index=11)
    (started / runs.RUN_FILE).unlink()
    broken = write_run(out, index=12)
    (broken / runs.RUN_FILE).write_text('{"status": "completed", "id": ')
    mirrored = write_run(out, index=13)  # as `dlrun train` writes: the config also in run.json
    info = json.loads((mirrored / runs.RUN_FILE).read_text())
    info[runs.CONFIG_MIRROR_KEY] = yaml.safe_load((mirrored / runs.CONFIG_FILE).read_text())
    (mirrored / runs.RUN_FILE).write_text(json.dumps(info))
    return out


def shown(root: Path) -> list[tuple[int, str, str]]:
    found = []
    for args in COMMANDS:
        result = runner.invoke(app, [*args[:1], str(root), *args[1:]], env={"COLUMNS": "300"})
        found.append((result.exit_code, result.stdout, result.stderr))
    return found


def from_folders(root: Path) -> list[tuple[int, str, str]]:
    """What the commands show with no index at all (it cannot be made: a folder is in its way);
    an index already there is put back after."""
    names = [f"{index.INDEX_FILE}{suffix}" for suffix in ("", "-wal", "-shm")]
    kept = [name for name in names if (root / name).is_file()]
    for name in kept:
        (root / name).rename(root.parent / name)
    (root / index.INDEX_FILE).mkdir()
    try:
        return shown(root)
    finally:
        (root / index.INDEX_FILE).rmdir()
        for name in kept:
            (root.parent / name).rename(root / name)


def test_indexed_runs_are_the_runs_the_folders_hold(root):
    loaded = index.load(root)
    plain = [runs.read_run(path) for path in run_folders([root], default_root=root)]
    assert loaded is not None and (root / index.INDEX_FILE).is_file()
    assert [run.path for run in loaded] == [run.path for run in plain]
    for a, b in zip(loaded, plain, strict=True):
        assert (a.status, a.started, a.problems) == (b.status, b.started, b.problems), a.path
        parts = [json.dumps([run.info, run.config, run.metrics]) for run in (a, b)]
        assert parts[0] == parts[1], a.path
    statuses = {run.path.name[-6:]: run.status for run in index.load(root)}
    assert statuses["000008"] == runs.CRASHED and statuses["00000b"] == runs.INCOMPLETE
    assert statuses["00000c"] == runs.UNREADABLE


def test_filters_and_sorts_read_by_sql_match_reading_every_file(root):
    loaded = index.load(root)
    plain = [runs.read_run(path) for path in run_folders([root], default_root=root)]
    keys = ["model.type", "test_r2", "per_class.a.f1", "config.seed", "metrics.test_mae", "x.y"]
    index.prefetch(loaded, keys)
    assert any(run._extracted for run in loaded)  # SQL answered, not a silent fallback
    for a, b in zip(loaded, plain, strict=True):
        for key in keys:
            left, right = a.lookup(key), b.lookup(key)
            assert left == right or (left != left and right != right), (a.path, key)
    for expression in ["test_r2 > 0.2 or model.units == [8]", "not per_class.a.f1 >= 0.3"]:
        found = [[run.path for run in apply_filter(both, expression)] for both in (loaded, plain)]
        assert found[0] == found[1] and 0 < len(found[0]) < len(plain), expression
    assert [r.path for r in sort_runs(loaded, "-test_r2")] == [
        r.path for r in sort_runs(plain, "-test_r2")
    ]


def test_deleting_or_corrupting_the_index_changes_nothing_but_one_rebuild(root):
    expected = from_folders(root)
    assert all(code == 0 for code, _, _ in expected)
    assert shown(root) == expected  # built
    built = index.built_at(root)
    assert shown(root) == expected and index.built_at(root) == built  # reused, not rebuilt

    (root / index.INDEX_FILE).unlink()
    assert shown(root) == expected
    rebuilt = index.built_at(root)
    assert rebuilt not in (None, built)

    (root / index.INDEX_FILE).write_bytes(b"not a database" * 500)
    for suffix in ("-wal", "-shm"):
        Path(f"{root / index.INDEX_FILE}{suffix}").unlink(missing_ok=True)
    assert shown(root) == expected
    once = index.built_at(root)
    assert once not in (None, rebuilt)
    assert shown(root) == expected and index.built_at(root) == once  # one rebuild, no more

    with sqlite3.connect(root / index.INDEX_FILE) as connection:  # SQLite, but not the index
        connection.execute("UPDATE bodies SET metrics = '{\"test_mae\": 99}'")
        connection.execute("DROP TABLE meta")
    assert shown(root) == expected
    again = index.built_at(root)
    assert again not in (None, once)

    with sqlite3.connect(root / index.INDEX_FILE) as connection:  # damaged values, bad rows
        connection.execute("UPDATE bodies SET metrics = '{\"test_' WHERE rowid % 3 = 0")
        connection.execute("UPDATE bodies SET info = NULL WHERE rowid % 3 = 1")
        connection.execute("UPDATE runs SET status = 'garbled', started = 7 WHERE rowid % 4 = 0")
    assert shown(root) == expected and index.built_at(root) == again  # read from the folders

    with sqlite3.connect(root / index.INDEX_FILE) as connection:  # rows without their JSON
        connection.execute("DELETE FROM bodies WHERE rowid % 2 = 0")
    assert shown(root) == expected and index.built_at(root) == again


def test_a_run_recorded_again_after_the_listing_shows_what_its_files_say(root):
    """The listing reads the small table; a run's JSON is fetched when it is shown, and only
    while its row is the one listed: a run a writer recorded in between is read from its
    folder, not from a row that no longer matches the stamp the listing checked."""
    index.load(root)
    listed = {run.path.name[-6:]: run for run in index.load(root)}
    folder = listed["000003"].path
    metrics = json.loads((folder / runs.METRICS_FILE).read_text())
    runs.RunFolder(folder).write_metrics({**metrics, "test_mae": 0.001})  # records the new row
    assert listed["000003"].metrics["test_mae"] == 0.001
    assert (
        listed["000004"].metrics["test_mae"]
        == runs.read_run(listed["000004"].path).metrics["test_mae"]
    )


def test_a_changed_added_or_removed_run_is_seen_through_the_index(root):
    index.load(root)
    folder = next(root.glob("*-000003"))
    metrics = json.loads((folder / runs.METRICS_FILE).read_text())
    (folder / runs.METRICS_FILE).write_text(json.dumps({**metrics, "test_mae": 0.001}))
    write_run(root, index=20)
    next(root.glob("*-000001")).rename(root / ".hidden-run")
    edited = next(root.glob("*-000002")) / runs.CONFIG_FILE  # read from YAML: no copy in run.json
    edited.write_text(edited.read_text().replace("seed: 2", "seed: 77"))
    expected = from_folders(root)
    assert shown(root) == expected
    assert '"seed": 77' in expected[3][1]
    assert "0.001" in expected[3][1] and "000014" in expected[0][1]
    assert "000001" not in expected[0][1]


def test_the_writer_updates_an_existing_index(root):
    index.load(root)
    path = write_run(root, index=30)
    with sqlite3.connect(root / index.INDEX_FILE) as connection:
        rows = dict(connection.execute("SELECT folder, status FROM runs").fetchall())
    assert rows[path.name] == runs.COMPLETED
    before = index.built_at(root)
    runs.mark_pruned(path)
    with sqlite3.connect(root / index.INDEX_FILE) as connection:
        (status,) = connection.execute(
            "SELECT status FROM runs WHERE folder = ?", (path.name,)
        ).fetchone()
    assert status == runs.PRUNED and index.built_at(root) == before


def test_a_listing_fetches_the_json_of_the_runs_it_shows_only(tmp_path):
    """`runs` over 10,000 runs reads the small table for all of them and each run's JSON only
    when it is shown: the listing stays fast however many runs the root holds."""
    from dlrun.analysis.compare import runs_grid

    for i in range(30):
        write_run(tmp_path, index=i)
    index.load(tmp_path)  # builds the index: the runs after this come from it
    loaded = runs.load_runs([tmp_path], default_root=tmp_path)
    assert all(isinstance(run, index.IndexedRun) for run in loaded)
    runs_grid(loaded[:10], machine=False)
    fetched = [run for run in loaded if run._texts is not None]
    assert fetched == loaded[:10]
    assert [run.id for run in fetched] == [f"{i:06x}" for i in range(29, 19, -1)]


def test_a_word_nan_in_a_message_is_still_read_by_sql(tmp_path):
    """Only a NaN or Infinity number keeps a run from SQLite's JSON functions, not the word in
    a string: a run that failed with "loss became NaN" is filtered and sorted by SQL too."""
    write_run(tmp_path, index=0, status=runs.FAILED, info={"error": "loss became NaN"})
    write_run(tmp_path, index=1, metrics={**default_metrics(1), "test_r2": math.nan})
    index.load(tmp_path)
    loaded = {run.id: run for run in index.load(tmp_path)}
    index.prefetch(list(loaded.values()), ["model.type"])
    assert loaded["000000"]._extracted == {"model.type": "mlp"}
    assert loaded["000001"]._extracted == {}  # a NaN metric: `lookup` reads it
    assert loaded["000001"].lookup("model.type") == "mlp"


def test_reindex_rebuilds_and_lists(root):
    index.load(root)
    built = index.built_at(root)
    result = runner.invoke(app, ["runs", str(root), "--reindex"])
    assert result.exit_code == 0, result.output
    assert "indexed 14 runs" in result.stderr
    assert index.built_at(root) != built


def test_runs_and_compare_list_the_newest_hundred_in_a_table(tmp_path):
    for i in range(105):
        write_run(tmp_path, index=i)
    result = runner.invoke(app, ["runs", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 102  # header, rule, 100 runs
    assert "showing the newest 100 of 105 runs" in result.stderr
    assert "000068" in result.stdout and "000004" not in result.stdout  # 0x68 = 104
    result = runner.invoke(app, ["compare", str(tmp_path), "--format", "csv"])
    assert len(result.stdout.splitlines()) == 106 and "showing" not in result.stderr
    result = runner.invoke(app, ["compare", str(tmp_path), "--sort", "test_mae", "-f", "json"])
    assert len(json.loads(result.stdout)) == 105


def listing_then(monkeypatch, write) -> None:
    """The next `index.load` lists the folders, then `write` runs (a writer in another process,
    recording into the index) before the reader reads the index: the interleaving two processes
    can meet."""
    listed = index.scan

    def scan_then_write(root):
        found = listed(root)
        monkeypatch.setattr(index, "scan", listed)
        write()
        return found

    monkeypatch.setattr(index, "scan", scan_then_write)


def test_a_run_recorded_between_a_readers_listing_and_its_read_keeps_its_row(root, monkeypatch):
    index.load(root)
    listing_then(monkeypatch, lambda: write_run(root, index=40))
    assert "000028" not in {run.path.name[-6:] for run in index.load(root)}  # listed before it
    with sqlite3.connect(root / index.INDEX_FILE) as connection:
        folders = {folder for (folder,) in connection.execute("SELECT folder FROM runs")}
    assert any(folder.endswith("-000028") for folder in folders)  # not dropped as gone


def test_a_run_rewritten_between_a_readers_listing_and_its_read_is_not_left_stale(
    tmp_path, monkeypatch
):
    root = tmp_path / "outputs"
    for i in range(5):
        write_run(root, index=i)
    index.load(root)
    folder = next(root.glob("*-000003"))
    metrics = json.loads((folder / runs.METRICS_FILE).read_text())
    listing_then(
        monkeypatch, lambda: runs.RunFolder(folder).write_metrics({**metrics, "test_mae": 0.001})
    )
    index.load(root)

    def read_again(path):
        raise AssertionError(f"{path}: its row was left stale")

    monkeypatch.setattr(index, "_read_files", read_again)
    assert [run.metrics["test_mae"] for run in index.load(root) if run.path == folder] == [0.001]


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from tests.runs.run_folders import write_run
    root, first = Path(sys.argv[1]), int(sys.argv[2])
    for i in range(first, first + 25):
        write_run(root, index=i, run_id=f"{first:02d}{i:04x}")
    """
)


def test_two_processes_recording_at_once_leave_the_index_whole(tmp_path, monkeypatch):
    root = tmp_path / "outputs"
    write_run(root, index=0)
    index.load(root)  # the index exists, so the writers update it
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(first)], env=env)
        for first in (1, 50)
    ]
    reads = 0
    while any(writer.poll() is None for writer in writers):
        assert index.load(root) is not None  # a reader in a loop meanwhile
        reads += 1
    assert [writer.returncode for writer in writers] == [0, 0] and reads
    with sqlite3.connect(root / index.INDEX_FILE) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM runs").fetchone() == (51,)

    def read_again(path):
        raise AssertionError(f"{path}: the writers left its row stale")

    monkeypatch.setattr(index, "_read_files", read_again)
    assert len(index.load(root)) == 51  # every row up to date: nothing read from the folders
