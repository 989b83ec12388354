"""`dlrun diff A B`: what changed between two runs, and whether their numbers can be compared.

A metric delta only means something when both runs were tested on the same examples, so the
data fingerprints recorded in `run.json` are checked first and a mismatch is a warning at the
top, not a footnote.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dlrun import runs as run_files
from dlrun.analysis.directions import better_direction, recorded_directions
from dlrun.analysis.filters import equal
from dlrun.core.numbers import is_number
from dlrun.runs import MISSING, Run, flatten

# run.json facts that describe where and on what a run happened (`versions.*` expands).
ENVIRONMENT_KEYS = (
    "versions",
    "device",
    "data_source",
    "data_sizes",
    "data_fingerprint",
    "test_fingerprint",
    "git_commit",
)


@dataclass(frozen=True)
class Change:
    key: str
    old: Any  # MISSING when only B has it
    new: Any  # MISSING when only A has it


@dataclass(frozen=True)
class MetricDelta:
    name: str
    old: Any
    new: Any
    directions: Mapping[str, str] = field(default_factory=dict)
    """Metric directions the two runs recorded (see `better_direction`)."""

    @property
    def delta(self) -> float | None:
        if is_number(self.old) and is_number(self.new):
            return self.new - self.old
        return None

    @property
    def relative(self) -> float | None:
        """Change as a fraction of A's value; None when A is 0 or either is not a number."""
        delta = self.delta
        if delta is None or self.old == 0:
            return None
        return delta / abs(self.old)

    @property
    def verdict(self) -> str | None:
        """'better' / 'worse' / 'same' for metrics whose direction is known."""
        direction, delta = better_direction(self.name, self.directions), self.delta
        if direction is None or delta is None:
            return None
        if delta == 0:
            return "same"
        return "better" if (delta < 0) == (direction == "min") else "worse"


@dataclass
class RunDiff:
    a: Run
    b: Run
    config: list[Change]
    metrics: list[MetricDelta]
    environment: list[Change]
    warnings: list[str] = field(default_factory=list)


def changes(old: dict[str, Any], new: dict[str, Any], skip: Sequence[str] = ()) -> list[Change]:
    """Dotted keys whose values differ, in A's key order then keys only B has."""
    keys = dict.fromkeys([*old, *new])
    return [
        Change(key, old.get(key, MISSING), new.get(key, MISSING))
        for key in keys
        if key not in skip and not (key in old and key in new and equal(old[key], new[key]))
    ]


def environment_of(run: Run) -> dict[str, Any]:
    return flatten({key: run.info[key] for key in ENVIRONMENT_KEYS if key in run.info})


def comparability_warnings(a: Run, b: Run) -> list[str]:
    """Why the two runs' metrics may not be comparable; empty when they are."""
    warnings = []
    for run in (a, b):
        if run.status != run_files.COMPLETED:
            warnings.append(f"run {run.id} is {run.status}: its metrics are missing or partial")
    test_a, test_b = a.info.get("test_fingerprint"), b.info.get("test_fingerprint")
    data_a, data_b = a.info.get("data_fingerprint"), b.info.get("data_fingerprint")
    if not (test_a and test_b and data_a and data_b):
        lacking = [r.id for r in (a, b) if not (r.info.get("test_fingerprint"))]
        warnings.append(
            "cannot tell whether the runs are comparable: no data fingerprint in run "
            + ", ".join(lacking or [a.id, b.id])
        )
        return warnings
    if test_a != test_b:
        warnings.append(
            f"not comparable: the runs were tested on different test sets (test fingerprint "
            f"{test_a} vs {test_b}); metric differences mix model and data changes"
        )
    if data_a != data_b:
        warnings.append(
            f"not comparable: the runs used different data (data fingerprint {data_a} vs "
            f"{data_b}): a different file, split, limit or preprocessing"
        )
    return warnings


def diff_runs(a: Run, b: Run, metric_patterns: Sequence[str] = ()) -> RunDiff:
    """Config, metric and environment differences from run A to run B."""
    names = dict.fromkeys([*a.scalar_metrics(), *b.scalar_metrics()])
    directions = recorded_directions([a, b])
    if metric_patterns:
        names = {n: None for n in names if any(fnmatch.fnmatchcase(n, p) for p in metric_patterns)}
    metrics = [
        MetricDelta(name, a.metrics.get(name, MISSING), b.metrics.get(name, MISSING), directions)
        for name in names
    ]
    return RunDiff(
        a=a,
        b=b,
        config=changes(a.params, b.params, skip=["name"] if a.name == b.name else []),
        metrics=metrics,
        environment=changes(environment_of(a), environment_of(b)),
        warnings=[*a.problems, *b.problems, *comparability_warnings(a, b)],
    )


def _value(value: Any) -> Any:
    return None if value is MISSING else value


def to_dict(diff: RunDiff) -> dict[str, Any]:
    """The diff as plain JSON-ready data (`dlrun diff --json`)."""

    def change(item: Change) -> dict[str, Any]:
        return {"key": item.key, "a": _value(item.old), "b": _value(item.new)}

    return {
        "a": {"id": diff.a.id, "name": diff.a.name, "path": str(diff.a.path)},
        "b": {"id": diff.b.id, "name": diff.b.name, "path": str(diff.b.path)},
        "comparable": not any(w.startswith("not comparable") for w in diff.warnings),
        "warnings": diff.warnings,
        "config": [change(item) for item in diff.config],
        "metrics": [
            {
                "name": m.name,
                "a": _value(m.old),
                "b": _value(m.new),
                "delta": m.delta,
                "relative": m.relative,
                "verdict": m.verdict,
            }
            for m in diff.metrics
        ],
        "environment": [change(item) for item in diff.environment],
    }


def percent(fraction: float) -> str:
    """+1.3%, -0.013%, +350%: enough digits that a small change does not read as 0.0%."""
    size = abs(fraction)
    digits = 0 if size >= 1 else 1 if size >= 0.001 else 3
    return f"{fraction:+.{digits}%}"
