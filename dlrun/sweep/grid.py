"""`dlrun sweep --grid`: the options read into the grid of values, and a value written back as
the `--set` text that reads as the same value."""

from __future__ import annotations

from typing import Any

import yaml

from dlrun.config.safe_yaml import MAX_DEPTH, load_yaml
from dlrun.core.errors import DlrunError


class SweepError(DlrunError):
    """A `--grid` or `--seeds` option that cannot make a sweep."""


def render(value: Any) -> str:
    """A value as YAML flow text that `--set` reads back as the same value (`0.001`, `[64, 64]`,
    `{name: sgd}`, `'1e-3'` for a string)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, sort_keys=False)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def parse_grid(options: list[str]) -> dict[str, list[Any]]:
    """`--grid KEY=V1,V2` options -> {KEY: [V1, V2]}; the values are read as one YAML flow list,
    so `0,0.2` is an int and a float and `[64,64],[128]` two lists."""
    grid: dict[str, list[Any]] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not sep or not all(parts) or not text.strip():
            raise SweepError(
                "a --grid option must look like KEY=V1,V2,...",
                received=option,
                expected="a dotted config key and comma-separated YAML values, e.g. "
                "train.optimizer.learning_rate=0.001,0.01 or model.units=[64],[128,64]",
            )
        if len(parts) > MAX_DEPTH:
            raise SweepError(f"--grid: the key has {len(parts)} parts", received=key)
        if key in grid:
            raise SweepError(
                f"--grid {key} is given twice", fix="list every value in one --grid option"
            )
        values = load_yaml(f"[{text}]", source=f"--grid {key}")
        repeated = [render(v) for i, v in enumerate(values) if _listed(v, values[:i])]
        if repeated:
            raise SweepError(f"--grid {key}: the value {repeated[0]} is listed twice")
        grid[key] = values
    overlapping = [(a, b) for a in grid for b in grid if a != b and b.startswith(f"{a}.")]
    if overlapping:
        a, b = overlapping[0]
        raise SweepError(
            f"--grid {b} is inside --grid {a}: their values would overwrite each other",
            fix="sweep one of the two keys",
        )
    return grid


def _listed(value: Any, earlier: list[Any]) -> bool:
    # By type too: 1, 1.0 and true are different values for a config (an int field refuses 1.5).
    return any(type(value) is type(other) and value == other for other in earlier)
