"""examples/ci/github-actions.yml: valid, made of commands the docs (docs/*.md) document, and
those commands run here as they would on GitHub (job summary file, JUnit files, exit codes)."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import ROOT
from tests.test_docs_commands import live_app

WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
# The hand-written pages (docs/reference/ is generated from the CLI, so it proves nothing).
DOCS = "\n".join(page.read_text() for page in sorted((ROOT / "docs").glob("*.md")))
runner = CliRunner()


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def run_lines() -> list[str]:
    steps = workflow()["jobs"]["train-and-check"]["steps"]
    return [line for step in steps if "run" in step for line in step["run"].splitlines() if line]


def documented_commands() -> set[str]:
    """'train', 'check', 'baseline save', ...: the docs' '## `dlrun ...`' headings."""
    headings = re.findall(r"^#{2,3} `dlrun ([a-z ]+?)(?: [A-Z\[-]|`)", DOCS, flags=re.MULTILINE)
    return set(headings)


def test_the_workflow_runs_nightly_and_on_pull_requests_without_secrets():
    document = workflow()
    triggers = document[True]  # YAML 1.1 reads the key `on` as true
    assert "pull_request" in triggers and triggers["schedule"][0]["cron"]
    assert document["permissions"] == {"contents": "read"}
    steps_text = json.dumps(document["jobs"]).lower()  # what runs, comments left out
    assert "secrets." not in steps_text and "token" not in steps_text
    uses = [s.get("uses", "") for s in document["jobs"]["train-and-check"]["steps"]]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)


def test_every_run_step_is_a_command_the_docs_document():
    assert {"train", "check", "report", "baseline save"} <= documented_commands()
    for line in run_lines():
        words = shlex.split(line)
        if words[0] != "dlrun":
            assert f"`{line}`" in DOCS, f"docs/ does not show the step {line!r}"
            continue
        command = words[1] if words[1] != "baseline" else " ".join(words[1:3])
        assert command in documented_commands(), line
        for option in (word for word in words if word.startswith("--")):
            assert f"`{option}" in DOCS, f"docs/ does not document {option} ({line})"


@pytest.mark.slow
def test_the_workflow_commands_pass_here_and_write_summary_and_junit(tmp_path, monkeypatch):
    """Runs the steps in a copy of the checkout's layout, trains the example config for real
    (seconds) and checks it against the committed baseline."""
    for folder in ("examples", "configs"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    for line in run_lines():
        words = shlex.split(line)
        if words[0] == "dlrun":
            result = runner.invoke(live_app(), words[1:])
            assert result.exit_code == 0, f"{line}\n{result.output}"
            assert "::error" not in result.stdout
    text = summary.read_text()
    assert text.startswith("### ✅ dlrun train wine_ci (")
    assert "| ✅ | test_mae <= 0.62 |" in text and "| ✅ | test_r2 >= 0.15 |" in text
    assert "### ✅ dlrun check ci-runs against examples/ci/baseline.json" in text
    baseline = json.loads((ROOT / "examples" / "ci" / "baseline.json").read_text())["metrics"]
    assert f"| ✅ | test_mae | {baseline['test_mae']:.6g} | " in text
    assert "| 0.03 | - |" in text and "| 0.05 | - |" in text  # the per-metric tolerances
    for name, tests in (("train-junit.xml", "2"), ("check-junit.xml", "2")):
        suite = ET.parse(tmp_path / "ci-runs" / name).getroot().find("testsuite")
        assert (suite.get("tests"), suite.get("failures")) == (tests, "0")
    assert (tmp_path / "ci-runs" / "report.html").stat().st_size > 10_000
    # The run folder (not the output root's `latest` pointer to it).
    [run_folder] = [
        p for p in (tmp_path / "ci-runs").iterdir() if p.is_dir() and not p.is_symlink()
    ]
    assert (run_folder / "metrics.json").is_file()
