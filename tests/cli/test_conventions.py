"""Command-line conventions: `-h`, `--json` and `--format json` alike, `--show-completion SHELL`,
and one plain line per epoch in a log."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from tests.conftest import write_config
from tests.runs.run_folders import write_run
from tests.test_cli import dlrun

runner = CliRunner()


@pytest.mark.parametrize(
    "command", [[], ["train"], ["runs"], ["compare"], ["baseline"], ["baseline", "save"]]
)
def test_h_is_help_everywhere(command):
    short = runner.invoke(app, [*command, "-h"])
    assert short.exit_code == 0, short.output
    assert "Usage:" in short.stdout
    assert short.stdout == runner.invoke(app, [*command, "--help"]).stdout


def test_json_and_format_json_both_work_on_every_command_that_prints_data(output_dir):
    first, second = write_run(output_dir, index=0), write_run(output_dir, index=1)
    for command in (["runs"], ["compare"], ["diff", first.name, second.name]):
        as_flag = runner.invoke(app, [*command, "--json"])
        as_format = runner.invoke(app, [*command, "--format", "json"])
        assert as_flag.exit_code == as_format.exit_code == 0, (command, as_flag.output)
        assert json.loads(as_flag.stdout) == json.loads(as_format.stdout), command

    refused = runner.invoke(app, ["diff", first.name, second.name, "--format", "csv"])
    assert refused.exit_code == 2
    assert "--format" in refused.output and "csv" in refused.output
    for command in ("validate", "train", "check", "models", "sources"):
        help_text = runner.invoke(app, [command, "--help"]).stdout
        assert "--json" in help_text and "--format" in help_text, command


@pytest.mark.parametrize(
    ("shell", "start"), [("zsh", "#compdef dlrun"), ("fish", "complete --command dlrun")]
)
def test_show_completion_prints_the_script_of_the_shell_named(shell, start):
    result = dlrun("--show-completion", shell)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(start)


def test_a_log_gets_one_plain_line_per_epoch(tmp_path, tiny_table):
    config = write_config(
        tmp_path,
        f"""
name: a-rather-long-run-name-for-a-log-line
data: {{source: csv, path: {tiny_table}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 3, batch_size: 64, metrics: [mae, mse, root_mean_squared_error]}}
report: {{plots: false, save_model: false}}
""",
    )
    # In-process: CliRunner's stderr is not a terminal, as a log file is not (tests/test_cli.py
    # trains through the real `python -m dlrun` process).
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.stderr[-2000:]
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert max(len(line) for line in epochs) > 80  # one line each, not wrapped at 80
    assert all("val_root_mean_squared_error" in line for line in epochs)
    assert "" not in result.stderr.splitlines()  # no blank lines
    assert "━" not in result.stderr  # no progress bar drawn into the log
