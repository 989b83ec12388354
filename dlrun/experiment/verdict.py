"""Did the run learn anything? The model's primary test metric against the naive baseline's on
the same test split, and, when it is no better, the likeliest causes the run itself shows.

Pure numbers in, a `Verdict` out: `evaluate` records it in `metrics.json` (`vs_baseline`,
`beats_baseline`, `baseline_verdict`), the CLI prints its warning, `compare` shows
`vs_baseline` and `--fail-under vs_baseline=0.1` gates on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from dlrun.data import DataSpec

INPUT_SCALE_LIMIT = 10.0
"""Inputs whose typical magnitude is above this are 'unscaled' for a network's first layer."""
BIAS_DRIFT_LIMIT = 0.5
"""Regression: mean prediction this many target standard deviations from the target mean."""
STILL_IMPROVING = 0.01
"""The last epoch lowered the loss by more than this fraction: more epochs would help."""


@dataclass(frozen=True)
class Verdict:
    metric: str
    """The primary test metric: the first of `train.metrics`, else the loss."""
    model: float
    baseline: float
    higher_is_better: bool
    causes: list[str] = field(default_factory=list)

    @property
    def improvement(self) -> float:
        """Relative improvement over the baseline (0.25: 25% better; negative: worse)."""
        gain = self.model - self.baseline if self.higher_is_better else self.baseline - self.model
        scale = abs(self.baseline)
        if scale == 0:
            return 0.0 if gain == 0 else math.copysign(math.inf, gain)
        return gain / scale

    @property
    def beats_baseline(self) -> bool:
        return math.isfinite(self.model) and self.improvement > 0

    def to_metrics(self) -> dict[str, Any]:
        improvement = self.improvement
        return {
            "vs_baseline": improvement if math.isfinite(improvement) else None,
            "beats_baseline": self.beats_baseline,
            "baseline_verdict": {
                "metric": self.metric,
                "model": self.model,
                "baseline": self.baseline,
                "improvement": improvement if math.isfinite(improvement) else None,
                "beats_baseline": self.beats_baseline,
                "causes": self.causes,
            },
        }


def primary_metric(metrics: dict[str, Any], metric_names: list[str]) -> str | None:
    """`test_<first configured metric>` when the run has it and its baseline, else the loss."""
    for name in [*metric_names[:1], "loss"]:
        if isinstance(metrics.get(f"test_{name}"), int | float) and isinstance(
            metrics.get(f"baseline_test_{name}"), int | float
        ):
            return name
    return None


def judge(
    metrics: dict[str, Any],
    metric_names: list[str],
    directions: dict[str, str],
    *,
    history: pd.DataFrame,
    spec: DataSpec,
    x_train: np.ndarray,
    y_train: np.ndarray,
    predictions: np.ndarray,
    stopped_early: bool,
) -> Verdict | None:
    """The verdict on the run's test metrics; None when the baseline has no comparable value."""
    name = primary_metric(metrics, metric_names)
    if name is None:
        return None
    from dlrun.analysis.directions import better_direction

    higher = better_direction(name, directions) == "max"
    verdict = Verdict(
        f"test_{name}",
        float(metrics[f"test_{name}"]),
        float(metrics[f"baseline_test_{name}"]),
        higher,
    )
    if verdict.beats_baseline:
        return verdict
    causes = likely_causes(history, spec, x_train, y_train, predictions, stopped_early)
    return Verdict(verdict.metric, verdict.model, verdict.baseline, higher, causes)


def likely_causes(
    history: pd.DataFrame,
    spec: DataSpec,
    x_train: np.ndarray,
    y_train: np.ndarray,
    predictions: np.ndarray,
    stopped_early: bool,
) -> list[str]:
    """What the run shows that most often makes a model lose to a constant, likeliest first."""
    import numpy as np

    causes = []
    losses = history["loss"].to_numpy(dtype=float) if "loss" in history else np.array([])
    if len(losses) and (not np.isfinite(losses[-1]) or losses[-1] > losses[0] * 1.5):
        causes.append(
            f"the training loss diverged ({losses[0]:.4g} -> {losses[-1]:.4g}): lower "
            "train.optimizer.learning_rate"
        )
    # Tables only: 10,000 images as float64 would take 1 GB at 64x64 RGB.
    sample = np.asarray(x_train[:10_000], dtype=np.float64) if spec.input_kind == "table" else None
    if sample is not None and sample.ndim == 2 and len(sample) > 1:
        spread = sample.std(axis=0)
        spread = spread[np.isfinite(spread) & (spread > 0)]
        # Either large or wildly unequal column scales: both slow a network's first layer.
        if len(spread) and (spread.max() > INPUT_SCALE_LIMIT or spread.max() / spread.min() > 1e3):
            causes.append(
                f"the inputs are unscaled (column std from {spread.min():.3g} to "
                f"{spread.max():.3g}): set data.scaling: standard (or robust)"
            )
    if spec.task == "regression" and spec.target_std is None and len(y_train) > 1:
        spread = float(np.std(y_train)) or 1.0
        drift = (float(np.mean(predictions)) - float(np.mean(y_train))) / spread
        if math.isfinite(drift) and abs(drift) > BIAS_DRIFT_LIMIT:
            causes.append(
                f"the predictions' mean is {abs(drift):.2g} target std from the training targets' "
                "mean: the output bias starts far from it (train longer, or start the last "
                "layer's bias at the target mean)"
            )
    still_falling = len(losses) == 1 or (
        len(losses) >= 2
        and np.isfinite(losses[-1])
        and losses[-1] < losses[-2] * (1 - STILL_IMPROVING)
    )
    if still_falling and not stopped_early:
        epochs = "1 epoch" if len(losses) == 1 else f"{len(losses)} epochs"
        causes.append(
            f"too few epochs: the loss was still falling after {epochs} (raise train.epochs)"
        )
    return causes


def warning_text(verdict: dict[str, Any], baseline: str | None) -> str:
    """The line the CLI prints for a run no better than its baseline (from `metrics.json`)."""
    improvement = verdict.get("improvement")
    change = "" if improvement is None else f" ({improvement:+.1%})"
    text = (
        f"the model is no better than the naive baseline ({baseline or 'constant'}): "
        f"{verdict['metric']} {verdict['model']:.4g} against {verdict['baseline']:.4g}{change}"
    )
    causes = verdict.get("causes") or []
    return text + ("; likely: " + "; ".join(causes) if causes else "")
