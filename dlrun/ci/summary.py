"""What CI systems read: a Markdown job summary, JUnit XML, GitHub `::error::` lines.

Pure functions returning strings; `dlrun train`, `dlrun check` and `dlrun sweep` write them
(to `$GITHUB_STEP_SUMMARY`, `--junit FILE`, stdout).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dlrun.analysis.grid import ABSENT, Grid
from dlrun.ci.checks import CheckResult
from dlrun.ci.gates import GateResult, delta_text, number_text
from dlrun.core.numbers import is_number, spread
from dlrun.report.tables import to_markdown
from dlrun.runs import Run

MAX_METRIC_COLUMNS = 8  # a summary table wider than this is unreadable on GitHub's page
PASS, FAIL = "✅", "❌"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    grid = Grid(list(header), [[ABSENT if cell is None else cell for cell in row] for row in rows])
    return to_markdown(grid).splitlines()


def spread_text(values: Sequence[float]) -> str:
    """One value as is; several as 'mean ± std (n=3)'."""
    summary = spread(values)
    assert summary is not None, "a check compares at least one value a side"
    return number_text(summary.mean) if summary.std is None else summary.text(count=True)


def markdown_summary(
    title: str,
    runs: Sequence[Run] = (),
    gates: Sequence[GateResult] = (),
    checks: Sequence[CheckResult] = (),
    notes: Sequence[str] = (),
    passed: bool | None = None,
) -> str:
    """A Markdown section for a CI job summary (GitHub renders `$GITHUB_STEP_SUMMARY`).

    Args:
        title: the heading, e.g. "dlrun train wine_ci" or "dlrun sweep sweeps/lr".
        runs: run folders as read by `dlrun.runs.read_run`, one table row each (id, name,
            status, then the runs' numeric test_* metrics); failed or interrupted runs show
            their status with empty metrics.
        gates: `dlrun.ci.gates.GateResult`s (`--fail-under` / `--fail-over`), one row each.
        checks: `dlrun.ci.checks.CheckResult`s of a baseline check, one row per metric.
        notes: extra lines shown as a bullet list (e.g. "member 3 failed: ...").
        passed: the heading's verdict, when the caller knows better (a sweep member that
            failed before it had a run folder); by default ✅ unless a run did not complete or
            a gate or check failed.

    Returns text ending in a blank line, so several summaries appended to one file stay apart.
    A section whose sequence is empty is left out.
    """
    if passed is None:
        passed = (
            all(run.status == "completed" for run in runs)
            and all(result.passed for result in gates)
            and all(result.passed for result in checks)
        )
    lines = [f"### {PASS if passed else FAIL} {title}", ""]
    if runs:
        columns: dict[str, None] = {}
        for run in runs:
            columns.update(
                (key, None)
                for key, value in run.metrics.items()
                if key.startswith("test_") and is_number(value)
            )
        shown = list(columns)[:MAX_METRIC_COLUMNS]
        rows = [
            [run.id, run.name, run.status, *(run.metrics.get(key) for key in shown)] for run in runs
        ]
        lines += [*_table(["run", "name", "status", *shown], rows), ""]
    if gates:
        rows = [
            [PASS if g.passed else FAIL, g.gate.requirement, number_text(g.value)] for g in gates
        ]
        lines += [*_table(["gate", "requirement", "value"], rows), ""]
    if checks:
        rows = [
            [
                PASS if c.passed else FAIL,
                c.metric,
                spread_text(c.baseline),
                spread_text(c.run),
                delta_text(c.delta),
                number_text(c.tolerance),
                "-" if c.p_value is None else f"{c.p_value:.3g}",
                c.verdict,
            ]
            for c in checks
        ]
        header = ["", "metric", "baseline", "run", "delta", "tolerance", "p", "verdict"]
        lines += [*_table(header, rows), ""]
    if notes:
        lines += [*(f"- {note}".replace("\n", " ") for note in notes), ""]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TestCase:
    """One JUnit test case: a gate or a checked metric."""

    __test__ = False  # not a pytest class, despite the name

    name: str
    classname: str
    passed: bool
    message: str


def gate_cases(results: Sequence[GateResult]) -> list[TestCase]:
    return [TestCase(r.gate.requirement, "dlrun.ci.gates", r.passed, r.message) for r in results]


def check_cases(results: Sequence[CheckResult]) -> list[TestCase]:
    return [TestCase(r.metric, "dlrun.check", r.passed, r.message) for r in results]


def junit_xml(suite: str, cases: Sequence[TestCase]) -> str:
    """JUnit XML (the Ant/Jenkins schema CI dashboards read): one `testsuite` named `suite`,
    a `testcase` per case, a `failure` element with the message for each that failed."""
    failures = sum(not case.passed for case in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0"}
    root = ET.Element("testsuites", {"name": "dlrun", **counts})
    element = ET.SubElement(root, "testsuite", {"name": suite, **counts, "skipped": "0"})
    for case in cases:
        node = ET.SubElement(
            element, "testcase", {"name": case.name, "classname": case.classname, "time": "0"}
        )
        if case.passed:
            ET.SubElement(node, "system-out").text = case.message
        else:
            ET.SubElement(node, "failure", {"message": case.message, "type": "GateFailed"})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_error_lines(messages: Iterable[str], title: str) -> list[str]:
    """`::error title=...::message` workflow commands: GitHub Actions shows each as an
    annotation on the run's page (escaped as its runner expects)."""
    return [f"::error title={_escape_property(title)}::{_escape_data(m)}" for m in messages]
