"""Gates: is a run good enough? `dlrun train --fail-under/--fail-over` evaluates `Gate`s on a
run's metrics. Pure functions over numbers (no files, no printing); comparing against a baseline
is `dlrun.ci.checks`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlrun.core.errors import DlrunError, did_you_mean
from dlrun.core.numbers import is_number

HIGHER, LOWER = "higher", "lower"


class GateError(DlrunError):
    """A gate or check that cannot be evaluated as written: bad syntax, a metric not there."""


def number_text(value: float) -> str:
    """Enough digits to see a difference that decides a gate, few enough to read."""
    return f"{value:.6g}"


def delta_text(delta: float) -> str:
    """A signed change: '+0.0171', '-0.09113', and '0' for none."""
    return "0" if delta == 0 else f"{delta:+.4g}"


def parse_assignment(text: str, flag: str) -> tuple[str, float]:
    """'METRIC=NUMBER' (as `--fail-under` and `--tolerance` take it) to its two parts."""
    name, sep, value = text.partition("=")
    name = name.strip()
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not sep or not name or not math.isfinite(number):
        raise GateError(
            f"{flag}: cannot read '{text}'",
            expected="METRIC=NUMBER, e.g. test_accuracy=0.9",
            fix=f"write {flag} test_accuracy=0.9",
        )
    return name, number


# Gates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """A run fails when `metric` is under (kind 'under') or over ('over') `threshold`."""

    metric: str
    threshold: float
    kind: str

    @property
    def flag(self) -> str:
        return f"--fail-{self.kind} {self.metric}={number_text(self.threshold)}"

    @property
    def requirement(self) -> str:
        """What passing means, as a JUnit test case name: 'test_accuracy >= 0.9'."""
        sign = ">=" if self.kind == "under" else "<="
        return f"{self.metric} {sign} {number_text(self.threshold)}"


def parse_gates(fail_under: Iterable[str] = (), fail_over: Iterable[str] = ()) -> list[Gate]:
    """The gates `--fail-under` and `--fail-over` name, in that order."""
    gates = []
    for kind, texts in (("under", fail_under), ("over", fail_over)):
        for text in texts:
            metric, threshold = parse_assignment(text, f"--fail-{kind}")
            gates.append(Gate(metric, threshold, kind))
    return gates


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    value: float

    @property
    def passed(self) -> bool:
        if not math.isfinite(self.value):
            return False  # a NaN metric passes no gate
        if self.gate.kind == "under":
            return self.value >= self.gate.threshold
        return self.value <= self.gate.threshold

    @property
    def message(self) -> str:
        """'test_accuracy = 0.8123 is under 0.9 (--fail-under test_accuracy=0.9)'."""
        gate = self.gate
        relation = gate.kind if not self.passed else f"not {gate.kind}"
        return (
            f"{gate.metric} = {number_text(self.value)} is {relation} "
            f"{number_text(gate.threshold)} ({gate.flag})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.gate.metric,
            "kind": self.gate.kind,
            "threshold": self.gate.threshold,
            "value": self.value,
            "passed": self.passed,
        }


def evaluate_gates(gates: Sequence[Gate], metrics: Mapping[str, Any]) -> list[GateResult]:
    """Each gate on the run's metrics.json values. Raises `GateError` for a metric the run does
    not have as a number (a typo must not pass silently)."""
    numeric = [key for key, value in metrics.items() if is_number(value)]
    results = []
    for gate in gates:
        value = metrics.get(gate.metric)
        if not is_number(value):
            what = "has no metric" if value is None else "has no number for"
            raise GateError(
                f"{gate.flag}: the run {what} '{gate.metric}'.{did_you_mean(gate.metric, numeric)}",
                expected="a numeric metric of the run's metrics.json: " + ", ".join(numeric),
            )
        results.append(GateResult(gate, float(value)))
    return results
