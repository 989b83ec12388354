"""Baseline checks: did a run get worse than a baseline?

Pure functions over numbers (no files, no printing): `dlrun check` compares `Samples` (one number
per run per metric: one run, several seeds, or a baseline file) and decides per metric:

- the direction (higher or lower is better) comes from the metric's name, as `compare` ranks
  columns (`dlrun.analysis.directions`), unless a flag names it;
- a metric *regressed* when it got worse by more than its tolerance (absolute, or relative to
  the baseline's mean with `relative=True`) AND, when both sides have two samples or more, a
  one-sided Welch's t-test finds the run side worse at level `alpha` (0.05): a nightly check
  over seeds then does not fail on seed noise. With one sample on either side there is no
  variance to test against, so the tolerance alone decides.
"""

from __future__ import annotations

import fnmatch
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dlrun.analysis.directions import better_direction
from dlrun.ci.gates import HIGHER, LOWER, GateError, delta_text, number_text, parse_assignment
from dlrun.core.errors import did_you_mean
from dlrun.core.numbers import spread

DEFAULT_ALPHA = 0.05
DEFAULT_PREFIX = "test_"
"""Metrics compared when none are named: the baseline's test metrics with a known direction."""


@dataclass
class Samples:
    """One side of a check: each metric's values, one per run (or per seed in a baseline file)."""

    label: str
    metrics: dict[str, list[float]]
    runs: list[str] = field(default_factory=list)
    test_fingerprints: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    directions: dict[str, str] = field(default_factory=dict)
    """Metric directions recorded by the runs (see `dlrun.analysis.directions`)."""


@dataclass(frozen=True)
class CheckSettings:
    tolerance: float = 0.0
    per_metric: Mapping[str, float] = field(default_factory=dict)
    relative: bool = False
    alpha: float = DEFAULT_ALPHA
    metrics: Sequence[str] = ()
    higher: Sequence[str] = ()
    lower: Sequence[str] = ()


def parse_tolerances(texts: Iterable[str]) -> tuple[float, dict[str, float]]:
    """`--tolerance 0.01` (every metric) and `--tolerance test_mae=0.02` (one metric)."""
    overall: float | None = None
    per_metric: dict[str, float] = {}
    for text in texts:
        if "=" in text:
            name, value = parse_assignment(text, "--tolerance")
            per_metric[name] = value
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or overall is not None:
            raise GateError(
                f"--tolerance: cannot read '{text}'"
                if overall is None
                else "--tolerance: two tolerances for every metric",
                expected="one NUMBER for every metric, and METRIC=NUMBER for single metrics",
                fix="e.g. --tolerance 0.01 --tolerance test_accuracy=0.005",
            )
        overall = value
    for value in [overall, *per_metric.values()]:
        if value is not None and value < 0:
            raise GateError("--tolerance: a tolerance cannot be negative", received=value)
    return overall or 0.0, per_metric


def direction_of(
    metric: str, settings: CheckSettings, recorded: Mapping[str, str] | None = None
) -> str | None:
    """A flag's direction, else the one the runs recorded, else the one the name says."""
    if metric in settings.higher:
        return HIGHER
    if metric in settings.lower:
        return LOWER
    known = better_direction(metric, recorded)
    return {"max": HIGHER, "min": LOWER}.get(known or "")


@dataclass(frozen=True)
class CheckResult:
    """One metric of a check: both sides' values, the allowed worsening and the verdict."""

    metric: str
    direction: str
    baseline: tuple[float, ...]
    run: tuple[float, ...]
    tolerance: float  # absolute, after --relative
    alpha: float
    p_value: float | None  # one-sided Welch's t-test; None with fewer than 2 samples a side

    @property
    def baseline_mean(self) -> float:
        return statistics.fmean(self.baseline)

    @property
    def run_mean(self) -> float:
        return statistics.fmean(self.run)

    @property
    def delta(self) -> float:
        return self.run_mean - self.baseline_mean

    @property
    def worsening(self) -> float:
        """How much worse the run is (negative when better), in the metric's units."""
        return -self.delta if self.direction == HIGHER else self.delta

    @property
    def beyond_tolerance(self) -> bool:
        worse, allowed = self.worsening, self.tolerance
        # 0.90 - 0.89 is 0.010000000000000009: a worsening equal to the tolerance is within it
        return worse > allowed and not math.isclose(worse, allowed, rel_tol=1e-9, abs_tol=1e-12)

    @property
    def significant(self) -> bool:
        return self.p_value is None or self.p_value < self.alpha

    @property
    def verdict(self) -> str:
        if self.worsening < 0:
            return "better"
        if self.worsening == 0:
            return "same"
        if not self.beyond_tolerance:
            return "within tolerance"
        return "regressed" if self.significant else "not significant"

    @property
    def passed(self) -> bool:
        return self.verdict != "regressed"

    @property
    def message(self) -> str:
        """One line: 'test_mae regressed: 0.612 vs baseline 0.58 (+0.032; tolerance 0.03)'."""
        text = (
            f"{self.metric} {self.verdict}: {number_text(self.run_mean)} vs baseline "
            f"{number_text(self.baseline_mean)} ({delta_text(self.delta)}; tolerance "
            f"{number_text(self.tolerance)}, {self.direction} is better"
        )
        if self.p_value is not None:
            text += (
                f"; Welch's t-test p = {self.p_value:.3g}, n = {len(self.run)} vs "
                f"{len(self.baseline)}"
            )
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        def side(values: tuple[float, ...]) -> dict[str, Any]:
            summary = spread(values)
            assert summary is not None, "a check compares at least one value a side"
            return {
                "mean": summary.mean,
                "std": summary.std,
                "n": summary.n,
                "values": list(values),
            }

        return {
            "metric": self.metric,
            "direction": self.direction,
            "baseline": side(self.baseline),
            "run": side(self.run),
            "delta": self.delta,
            "tolerance": self.tolerance,
            "p_value": self.p_value,
            "verdict": self.verdict,
            "passed": self.passed,
        }


def welch_p_value(run: Sequence[float], baseline: Sequence[float], direction: str) -> float:
    """p of 'the run is worse than the baseline' by a one-sided Welch's t-test (unequal
    variances). scipy is imported here only: most checks never need it."""
    if statistics.pvariance(run) == 0 and statistics.pvariance(baseline) == 0:
        # No spread on either side: the difference is exact, not noise (scipy returns NaN).
        worse = statistics.fmean(run) - statistics.fmean(baseline)
        worse = -worse if direction == HIGHER else worse
        return 0.0 if worse > 0 else 1.0 if worse < 0 else 0.5  # as t = +inf, -inf, 0
    from scipy import stats

    alternative = "less" if direction == HIGHER else "greater"
    result = stats.ttest_ind(run, baseline, equal_var=False, alternative=alternative)
    p_value = float(result.pvalue)
    return p_value if math.isfinite(p_value) else 1.0


def check_metric(
    metric: str,
    direction: str,
    baseline: Sequence[float],
    run: Sequence[float],
    *,
    tolerance: float = 0.0,
    relative: bool = False,
    alpha: float = DEFAULT_ALPHA,
) -> CheckResult:
    base_mean = statistics.fmean(baseline)
    allowed = tolerance * abs(base_mean) if relative else tolerance
    tested = len(run) >= 2 and len(baseline) >= 2
    return CheckResult(
        metric,
        direction,
        tuple(baseline),
        tuple(run),
        allowed,
        alpha,
        welch_p_value(run, baseline, direction) if tested else None,
    )


def _expand(patterns: Sequence[str], names: Sequence[str], flag: str) -> list[str]:
    chosen: dict[str, None] = {}
    for pattern in patterns:
        hits = [name for name in names if fnmatch.fnmatchcase(name, pattern)]
        if not hits:
            raise GateError(
                f"{flag}: the baseline has no metric '{pattern}'.{did_you_mean(pattern, names)}",
                expected="one of: " + ", ".join(names),
            )
        chosen.update(dict.fromkeys(hits))
    return list(chosen)


def _check_direction_flags(settings: CheckSettings, known: list[str]) -> None:
    """A direction flag must name a metric one side has, and not both directions at once."""
    for flag, listed in (
        ("--higher-is-better", settings.higher),
        ("--lower-is-better", settings.lower),
    ):
        for name in listed:
            if name not in known:
                raise GateError(
                    f"{flag}: neither side has a metric '{name}'.{did_you_mean(name, known)}"
                )
    both = set(settings.higher) & set(settings.lower)
    if both:
        raise GateError(f"{', '.join(sorted(both))}: named as higher and lower is better")


def chosen_metrics(baseline: Samples, run: Samples, settings: CheckSettings) -> list[str]:
    """The metrics to compare: those `--metric` names (patterns allowed), else the baseline's
    test_* metrics whose direction is known. Every one must be on both sides."""
    names = list(baseline.metrics)
    recorded = {**baseline.directions, **run.directions}
    _check_direction_flags(settings, sorted({*baseline.metrics, *run.metrics}))
    if settings.metrics:
        metrics = _expand(settings.metrics, names, "--metric")
    else:
        metrics = [
            name
            for name in names
            if name.startswith(DEFAULT_PREFIX)
            and direction_of(name, settings, recorded) is not None
        ]
        if not metrics:
            raise GateError(
                f"{baseline.label}: no test_* metric whose direction is known, so nothing to check",
                fix="name metrics with --metric, and their direction with --higher-is-better or "
                "--lower-is-better",
            )
    for metric in metrics:
        if metric not in run.metrics:
            raise GateError(
                f"{run.label}: no metric '{metric}' (the baseline has it)."
                f"{did_you_mean(metric, list(run.metrics))}",
                expected="the baseline's metrics on both sides: " + ", ".join(metrics),
                fix="check the run's task and train.metrics, or pick metrics with --metric",
            )
        if direction_of(metric, settings, recorded) is None:
            raise GateError(
                f"--metric {metric}: cannot tell from the name whether higher or lower is better",
                fix=f"add --higher-is-better {metric} or --lower-is-better {metric}",
            )
    for name in settings.per_metric:
        if name not in metrics:
            raise GateError(
                f"--tolerance {name}=...: '{name}' is not among the metrics checked."
                f"{did_you_mean(name, metrics)}",
                expected="one of: " + ", ".join(metrics),
            )
    return metrics


def run_check(baseline: Samples, run: Samples, settings: CheckSettings) -> list[CheckResult]:
    """Every chosen metric compared; raises `GateError` for input that cannot be checked."""
    results = []
    recorded = {**baseline.directions, **run.directions}
    for metric in chosen_metrics(baseline, run, settings):
        results.append(
            check_metric(
                metric,
                direction_of(metric, settings, recorded) or HIGHER,
                baseline.metrics[metric],
                run.metrics[metric],
                tolerance=settings.per_metric.get(metric, settings.tolerance),
                relative=settings.relative,
                alpha=settings.alpha,
            )
        )
    return results


def comparability_notes(baseline: Samples, run: Samples) -> list[str]:
    """Why a check may compare unlike things (a single run on each side, tested on different
    test sets); empty when nothing looks off. Seeds differ in their splits by design."""
    a, b = baseline.test_fingerprints, run.test_fingerprints
    if len(a) == 1 and len(b) == 1 and a != b:
        return [
            f"the baseline and the run were tested on different test sets (test fingerprint "
            f"{next(iter(a))} vs {next(iter(b))}): a different seed, data file or split"
        ]
    return []
