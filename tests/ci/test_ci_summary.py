"""`dlrun.ci.summary`: the Markdown, JUnit XML and `::error::` lines CI systems read."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from dlrun import runs
from dlrun.ci.checks import check_metric
from dlrun.ci.gates import Gate, GateResult
from dlrun.ci.summary import (
    check_cases,
    gate_cases,
    github_error_lines,
    junit_xml,
    markdown_summary,
)
from dlrun.runs import read_run
from tests.runs.run_folders import write_run

PASSED = GateResult(Gate("test_r2", 0.1, "under"), 0.25)
FAILED = GateResult(Gate("test_mae", 0.5, "over"), 0.58)


def test_a_sweep_summary_has_a_row_per_run_failed_ones_included(tmp_path):
    """What `dlrun sweep` shows: its members, one failed, under a failing verdict."""
    members = [
        read_run(write_run(tmp_path, index=0)),
        read_run(write_run(tmp_path, index=1, status=runs.FAILED, name="wine|lr")),
    ]
    text = markdown_summary("dlrun sweep wine", members, notes=["member 000001 failed"])
    lines = text.splitlines()
    assert lines[0] == "### ❌ dlrun sweep wine"
    assert "| run | name | status | test_loss | test_mae | test_r2 |" in lines
    assert "| 000000 | wine | completed | 0.6 | 0.6 | 0.1 |" in lines
    assert "| 000001 | wine\\|lr | failed | - | - | - |" in lines  # a pipe cannot split a cell
    assert "- member 000001 failed" in lines
    assert text.endswith("\n\n")  # summaries appended one after another stay apart


def test_gates_and_checks_get_a_row_each_with_a_verdict():
    seeds = check_metric("test_accuracy", "higher", [0.9, 0.91, 0.92], [0.85, 0.86, 0.84])
    text = markdown_summary("dlrun check", gates=[PASSED, FAILED], checks=[seeds])
    assert text.startswith("### ❌ dlrun check")
    assert "| ✅ | test_r2 >= 0.1 | 0.25 |" in text
    assert "| ❌ | test_mae <= 0.5 | 0.58 |" in text
    assert "| ❌ | test_accuracy | 0.91 ± 0.01 (n=3) | 0.85 ± 0.01 (n=3) | -0.06 |" in text
    assert markdown_summary("all good", gates=[PASSED]).startswith("### ✅ all good")
    # a sweep member that failed before it had a run folder: the caller decides
    assert markdown_summary("sweep", passed=False).startswith("### ❌ sweep")


def test_junit_has_a_test_case_per_gate_and_a_failure_with_its_message():
    document = junit_xml("dlrun train", gate_cases([PASSED, FAILED]))
    root = ET.fromstring(document)
    suite = root.find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "dlrun train",
        "2",
        "1",
    )
    passed, failed = suite.findall("testcase")
    assert passed.get("name") == "test_r2 >= 0.1" and passed.find("failure") is None
    assert failed.find("failure").get("message") == (
        "test_mae = 0.58 is over 0.5 (--fail-over test_mae=0.5)"
    )
    checked = ET.fromstring(junit_xml("dlrun check", check_cases([])))
    assert checked.find("testsuite").get("tests") == "0"


def test_error_lines_escape_what_would_end_a_workflow_command():
    [line] = github_error_lines(["50% worse\nsee run: 9806ce"], "dlrun check, seeds")
    assert line == "::error title=dlrun check%2C seeds::50%25 worse%0Asee run: 9806ce"
