"""User text on the terminal: Rich markup in it is shown as typed, control characters in it are
shown as escapes, never obeyed; and every command answers a user error inside one boundary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app, output
from tests.conftest import write_config
from tests.runs.run_folders import write_run

runner = CliRunner()

MARKUP = "m[/x]"
ESC = "esc\x1b[31mred"
OSC = "osc\x1b]0;pwned\x07bell"
NEWLINE = "new\nline"
NAMES = [MARKUP, ESC, OSC, NEWLINE]

# Control characters a terminal obeys; newline and tab are the output's own layout.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def assert_terminal_safe(result, exit_code: int = 0) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert not RAW_CONTROL.search(stream), repr(stream)


# The one sanitizer


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain [bold]text[/]", "plain [bold]text[/]"),
        (ESC, "esc\\x1b[31mred"),
        (OSC, "osc\\x1b]0;pwned\\x07bell"),
        (NEWLINE, "new\\nline"),
        ("tab\there", "tab\\there"),
        ("del\x7f c1\x9b nul\x00", "del\\x7f c1\\x9b nul\\x00"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("unicode é 日本 ✓", "unicode é 日本 ✓"),
    ],
)
def test_safe_shows_control_characters_as_escapes(raw, shown):
    assert output.safe(raw) == shown


def test_safe_keeps_the_layout_of_a_message_and_escapes_markup_on_request():
    assert output.safe("a\n  b\tc\x1bd", line=False) == "a\n  b\tc\\x1bd"
    assert output.safe("m[/x].yaml", markup=True) == "m\\[/x].yaml"
    assert output.styled("[bold]ok:[/] {}", "[/x]\x1b").plain == "ok: [/x]\\x1b"


# Markup in file names and values


def invalid_config_in_a_markup_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "m["  # so that the config's path reads .../m[/x].yaml
    folder.mkdir()
    return write_config(folder, "data: {source: mnist}\nmodel: {type: mlp}\ntrian: {}\n", "x].yaml")


def test_a_config_path_with_markup_that_fails_validation_is_exit_2_and_shown_as_typed(tmp_path):
    config = invalid_config_in_a_markup_folder(tmp_path)
    result = runner.invoke(app, ["validate", str(config)])
    assert_terminal_safe(result, 2)
    assert result.stderr.startswith(f"error: {tmp_path}/m[/x].yaml: 1 problem in the config")
    assert "Did you mean 'train'?" in result.stderr


def test_a_valid_config_path_with_markup_is_ok(tmp_path):
    folder = tmp_path / "m["
    folder.mkdir()
    config = write_config(folder, "data: {source: mnist}\nmodel: {type: mlp}\n", "x].yaml")
    result = runner.invoke(app, ["validate", str(config)])
    assert_terminal_safe(result, 0)
    assert f"ok: {tmp_path}/m[/x].yaml is valid" in result.stderr


def missing_data_config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path, "data: {source: csv, path: nowhere.csv, target: y}\nmodel: {type: mlp}\n"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [('"[/x]"', "[/x]"), (r'"\e]0;pwned\a[/x]"', "\\x1b]0;pwned\\x07[/x]")],
    ids=["markup", "osc"],
)
def test_a_set_name_with_markup_or_control_characters_trains_to_the_data_error(
    tmp_path, value, shown
):
    result = runner.invoke(
        app, ["train", str(missing_data_config(tmp_path)), "--set", f"name={value}"]
    )
    assert_terminal_safe(result, 2)
    assert f"training {shown} (mlp on csv)" in result.stderr
    assert "error: data file not found" in result.stderr


def test_a_run_id_with_markup_and_escapes_is_quoted_as_typed_in_the_error(tmp_path):
    result = runner.invoke(app, ["diff", "[/x]", "\x1b]0;pwned\x07"])
    assert_terminal_safe(result, 2)
    assert "[/x]: no such file or folder, nor a run id" in result.stderr


# Run names in runs, compare and diff


@pytest.fixture
def odd_runs(tmp_path: Path) -> list[Path]:
    return [write_run(tmp_path / "runs", index=i, name=name) for i, name in enumerate(NAMES)]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_runs_shows_odd_names_escaped_one_row_each(odd_runs, fmt):
    result = runner.invoke(app, ["runs", str(odd_runs[0].parent), "--format", fmt])
    assert_terminal_safe(result)
    for shown in ("m[/x]", "esc\\x1b[31mred", "osc\\x1b]0;pwned\\x07bell"):
        assert shown in result.stdout
    if fmt != "csv":  # CSV quotes a newline and keeps it: it is the name's own
        assert "new\\nline" in result.stdout
        rows = [line for line in result.stdout.splitlines() if "completed" in line]
        assert len(rows) == len(NAMES)


def test_runs_json_keeps_every_name_exactly(odd_runs):
    result = runner.invoke(app, ["runs", str(odd_runs[0].parent), "--format", "json"])
    assert_terminal_safe(result)
    assert sorted(row["name"] for row in json.loads(result.stdout)) == sorted(NAMES)


@pytest.mark.parametrize("per_run", [False, True])
def test_compare_shows_odd_names_escaped(odd_runs, per_run):
    args = ["compare", str(odd_runs[0].parent), *(["--per-run"] if per_run else [])]
    result = runner.invoke(app, args)
    assert_terminal_safe(result)
    assert "m[/x]" in result.stdout and "osc\\x1b]0;pwned\\x07bell" in result.stdout
    assert len([line for line in result.stdout.splitlines() if "completed" in line]) == 4


@pytest.mark.parametrize("other", [ESC, OSC, NEWLINE])
def test_diff_shows_odd_names_escaped(odd_runs, other):
    result = runner.invoke(app, ["diff", str(odd_runs[0]), str(odd_runs[NAMES.index(other)])])
    assert_terminal_safe(result)
    assert "m[/x]" in result.stdout
    assert output.safe(other) in result.stdout
    assert "config: 1 difference(s)" in result.stdout


def test_diff_json_keeps_the_names_exactly(odd_runs):
    result = runner.invoke(app, ["diff", str(odd_runs[0]), str(odd_runs[2]), "--json"])
    assert_terminal_safe(result)
    report = json.loads(result.stdout)
    assert (report["a"]["name"], report["b"]["name"]) == (MARKUP, OSC)


def test_warnings_quoting_a_run_are_escaped_too(odd_runs):
    (odd_runs[1] / "metrics.json").write_text("[")
    result = runner.invoke(app, ["runs", str(odd_runs[0].parent)])
    assert_terminal_safe(result)
    assert "warning: " in result.stderr and "metrics.json: not valid JSON" in result.stderr


# The error boundary


def test_a_user_error_with_json_is_one_json_object_and_its_exit_code(tmp_path):
    result = runner.invoke(app, ["diff", "cccccc", "[/x]", "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["status"] == "error"
    assert "cccccc: no such file or folder, nor a run id" in report["error"]
    assert result.stderr.startswith("error: cccccc: no such file or folder")


def test_ctrl_c_in_any_command_is_exit_130_with_one_line(odd_runs, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dlrun.runs.load_runs", interrupted)
    result = runner.invoke(app, ["runs", str(odd_runs[0].parent)])
    assert result.exit_code == 130
    assert result.stderr == "interrupted (Ctrl-C); no run folder was written\n"


def test_a_bug_in_a_command_keeps_its_traceback(odd_runs, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug in dlrun")

    monkeypatch.setattr("dlrun.runs.load_runs", bug)
    result = runner.invoke(app, ["runs", str(odd_runs[0].parent)])
    assert isinstance(result.exception, ZeroDivisionError)
