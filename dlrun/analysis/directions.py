"""Which way a metric is better: what `compare` marks as best, `diff` calls better or worse
and `dlrun check` counts as a regression.

Recorded at training time from the Keras metric itself (`metrics.json`'s `metric_directions`);
the name rule below is kept for runs written before dlrun recorded it, and for metrics Keras
gives no direction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from dlrun.runs import Run

# Words in a metric name that say which way is better. Checked on the name without its
# train/val/test/baseline prefix; "lower" words first, so "error_rate" is not read as "rate".
_LOWER_IS_BETTER = re.compile(
    r"loss|error|mae|mse|rmse|msle|mape|hinge|crossentropy|cosh|poisson|kl_?div|perplexity"
)
_HIGHER_IS_BETTER = re.compile(
    r"acc|auc|precision|recall|f1|r2|iou|average_precision|top_k|vs_baseline"  # improvement
)


def better_direction(metric: str, recorded: Mapping[str, str] | None = None) -> str | None:
    """'min' or 'max' for metrics whose better direction is known, else None (counts, times and
    sizes are not ranked: fewer epochs is not 'better').

    Known from the Keras metric itself where the run recorded it (`metrics.json`'s
    `metric_directions`, by name without the train/val/test/baseline prefix: 'higher' or
    'lower'); from the name for runs written before dlrun recorded it, or a metric Keras gives
    no direction."""
    name = re.sub(r"^(baseline_test_|test_|val_)", "", metric.lower())
    written = (recorded or {}).get(re.sub(r"^(baseline_test_|test_|val_)", "", metric))
    if written in ("higher", "lower"):
        return "max" if written == "higher" else "min"
    if _LOWER_IS_BETTER.search(name):
        return "min"
    if _HIGHER_IS_BETTER.search(name):
        return "max"
    return None


def recorded_directions(runs: Sequence[Run]) -> dict[str, str]:
    """Every metric direction the runs recorded (`metrics.json`), merged."""
    merged: dict[str, str] = {}
    for run in runs:
        merged.update(run.metric_directions)
    return merged
