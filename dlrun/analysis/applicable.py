"""Which config differences are the user's: what `dlrun compare` shows by default.

Two kinds of difference are not something the user changed:

- an `auto` setting (or a null default) that training resolved per machine or per data
  (`train.jit_compile: auto` became true for an MLP and false for an LSTM). `run.json`'s
  `auto_resolved` names those keys; runs from before it was recorded fall back to the keys
  the schema resolves (`AUTO_KEYS`). Compared as written (`auto`), they differ only when a run
  set one explicitly.
- a key that only some runs have, because it does not apply to every model or data source in
  view (`model.cell` of an LSTM beside an MLP). It is shown only when the runs that have it
  disagree; otherwise it is left out, and counted under the model type that has it.
- with runs of several model types in view, a key whose value is the same within each type
  and differs only between them (the LSTM's data file, epochs and seed beside the MLP's): the
  `model.type` column stands for it, and it is left out, named in the same note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlrun.analysis import filters
from dlrun.runs import AUTO_RESOLVED_KEY, MISSING, Run

AUTO_KEYS = frozenset(
    {
        "data.task",
        "data.cache",
        "train.loss",
        "train.metrics",
        "train.steps_per_execution",
        "train.jit_compile",
        "train.precision",
        "train.device",
        "train.distribute.communication",
        "train.early_stopping.mode",
    }
)
"""Keys the schema lets training resolve (`auto`, or null for the task's default): how runs
recorded before `auto_resolved` are read."""

AUTO = "auto"


def auto_keys(run: Run) -> set[str]:
    """The keys of this run that training resolved rather than the user set."""
    recorded = run.info.get(AUTO_RESOLVED_KEY)
    if isinstance(recorded, dict):
        return set(recorded)
    return {key for key in AUTO_KEYS if key in run.params}


def as_written(run: Run, key: str) -> Any:
    """The value the user gave: `auto` for a key training resolved; MISSING when absent."""
    if key not in run.params:
        return MISSING
    return AUTO if key in auto_keys(run) else run.params[key]


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b
    return filters.equal(a, b)


def _differ(values: Sequence[Any]) -> bool:
    return any(not _same(values[0], value) for value in values[1:])


MODEL_TYPE = "model.type"


def _by_type(runs: Sequence[Run]) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault(str(run.model), []).append(index)
    return list(groups.values())


def user_differences(runs: Sequence[Run], hidden: set[str]) -> tuple[list[str], list[str]]:
    """(keys whose user-given values differ, keys left out: those only some runs have and that
    agree where they apply, and those that follow the model type). An auto resolution is never
    a difference."""
    types = _by_type(runs)
    keys: dict[str, None] = {}
    for run in runs:
        keys.update(dict.fromkeys(run.params))
    differing, partial = [], []
    for key in keys:
        if key in hidden:
            continue
        values = [as_written(run, key) for run in runs]
        if not _differ(values):
            continue
        present = [value for value in values if value is not MISSING]
        follows_type = (
            key != MODEL_TYPE
            and len(types) > 1
            and all(not _differ([values[i] for i in group]) for group in types)
        )
        if (len(present) < len(values) and not _differ(present)) or follows_type:
            partial.append(key)
        else:
            differing.append(key)
    return differing, partial


def partial_note(runs: Sequence[Run], partial: Sequence[str]) -> str | None:
    """One line naming how many params were left out, under the model types that have them."""
    if not partial:
        return None
    by_type: dict[str, int] = {}
    for key in partial:
        types = sorted({str(run.model) for run in runs if key in run.params})
        label = "/".join(types) if len(types) < len(_by_type(runs)) else "all, by type"
        by_type[label] = by_type.get(label, 0) + 1
    groups = ", ".join(f"{label}: {count}" for label, count in sorted(by_type.items()))
    return (
        f"compare: {len(partial)} params that apply to only some model types or change only "
        f"with model.type are left out ({groups}); --params KEY or --all-params shows them"
    )


def mark_auto(run: Run, key: str, value: Any) -> Any:
    """A cell of a param the user asked to see: an auto resolution marked as such."""
    if key in run.params and key in auto_keys(run) and value is not MISSING:
        from dlrun.analysis.grid import cell_text

        return f"{cell_text(value)} (auto)"
    return value
