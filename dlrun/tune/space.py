"""The search space of `dlrun tune`: dotted config keys, each a distribution, checked up front.

A space file (or `--param KEY=SPEC`) maps the keys `--set` takes to one of

    {loguniform: [lo, hi]}   a float, log-uniform (lo > 0)
    {uniform: [lo, hi]}      a float, uniform
    {int: [lo, hi]}          an integer from lo to hi, both included
    {choice: [v1, v2, ...]}  one of the values (any YAML: numbers, strings, lists, mappings)

`check_space` tries every bound and every choice in the config, as `--set` would, before the
first trial: a key the schema does not have, or a value it refuses, is an exit 2 naming the key.
Nothing here imports Optuna; `distributions` makes its distributions when the study starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun.config.loader import load_config
from dlrun.config.safe_yaml import load_yaml
from dlrun.core.errors import ConfigError, DlrunError
from dlrun.sweep.runner import render

KINDS = ("loguniform", "uniform", "int", "choice")
SPEC_HELP = "{loguniform: [lo, hi]}, {uniform: [lo, hi]}, {int: [lo, hi]} or {choice: [v1, ...]}"
PRIMITIVE = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Param:
    """One key of the space and its distribution."""

    key: str
    kind: str
    bounds: tuple[Any, ...]  # (lo, hi), or the choices

    @property
    def probes(self) -> list[Any]:
        """The values checked against the schema: both bounds, or every choice."""
        return list(self.bounds)

    def describe(self) -> dict[str, Any]:
        return {self.kind: list(self.bounds)}

    def encode(self, value: Any) -> Any:
        """A choice as Optuna stores it (lists and mappings as their `--set` text)."""
        return value if isinstance(value, PRIMITIVE) else render(value)

    def decode(self, stored: Any) -> Any:
        """The config value of what Optuna sampled."""
        if self.kind != "choice":
            return stored
        for choice in self.bounds:
            if self.encode(choice) == stored:
                return choice
        return stored


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_param(key: str, spec: Any, source: str) -> Param:
    """One `KEY: SPEC` entry, its bounds checked (the schema check comes later)."""
    where = f"{source} {key}"
    parts = key.split(".")
    if not key or not all(parts):
        raise ConfigError(
            f"{source}: {key!r} is not a dotted config key", expected="e.g. model.units"
        )
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(f"{where}: not a distribution", received=spec, expected=SPEC_HELP)
    kind, bounds = next(iter(spec.items()))
    if not isinstance(bounds, list) or not bounds:
        raise ConfigError(f"{where}: {kind} takes a list", received=bounds, expected=SPEC_HELP)
    if kind == "choice":
        repeated = [render(v) for i, v in enumerate(bounds) if v in bounds[:i]]
        if repeated:
            raise ConfigError(f"{where}: the choice {repeated[0]} is listed twice")
        return Param(key, kind, tuple(bounds))
    if len(bounds) != 2 or not all(_number(v) for v in bounds):
        raise ConfigError(f"{where}: {kind} takes [lo, hi], two numbers", received=bounds)
    lo, hi = bounds
    if kind == "int" and not all(isinstance(v, int) for v in bounds):
        raise ConfigError(f"{where}: int takes two integers", received=bounds)
    if kind == "loguniform" and lo <= 0:
        raise ConfigError(
            f"{where}: loguniform needs a positive lower bound (its logarithm is sampled)",
            received=bounds,
            fix=f"use a bound above 0, e.g. [1.0e-5, {hi}], or uniform",
        )
    if lo > hi or (lo == hi and kind != "int"):
        raise ConfigError(f"{where}: the lower bound is not below the upper", received=bounds)
    return Param(key, kind, (lo, hi))


def parse_space(document: Any, source: str) -> dict[str, Param]:
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            f"{source}: a space is a mapping of dotted config keys to distributions",
            received=document,
            expected="e.g. train.optimizer.learning_rate: {loguniform: [1.0e-4, 1.0e-1]}",
        )
    return {str(key): parse_param(str(key), spec, source) for key, spec in document.items()}


def load_space(path: Path | None, options: list[str]) -> dict[str, Param]:
    """The space file's keys, then each `--param KEY=SPEC` (which replaces a file's key)."""
    space: dict[str, Param] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"--space {path}: cannot read it ({error.strerror})") from None
        space.update(parse_space(load_yaml(text, source=str(path)), str(path)))
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or not text.strip():
            raise ConfigError(
                "a --param option must look like KEY=SPEC",
                received=option,
                expected="e.g. model.dropout={uniform: [0, 0.5]}",
            )
        key = key.strip()
        space[key] = parse_param(key, load_yaml(text, source=f"--param {key}"), "--param")
    if not space:
        raise ConfigError(
            "the search space is empty",
            fix="give --space SPACE.yaml or at least one --param KEY=SPEC",
        )
    keys = list(space)
    inside = [(a, b) for a in keys for b in keys if a != b and b.startswith(f"{a}.")]
    if inside:
        raise ConfigError(f"the space's key {inside[0][1]} is inside its key {inside[0][0]}")
    return space


def overrides(space: dict[str, Param], values: dict[str, Any]) -> list[str]:
    return [f"{key}={render(values[key])}" for key in space if key in values]


def check_space(config: Path, base: list[str], space: dict[str, Param]) -> None:
    """Every bound and choice of every key through the config schema, as `--set` does it."""
    for param in space.values():
        for value in param.probes:
            try:
                load_config(config, [*base, f"{param.key}={render(value)}"])
            except DlrunError as error:
                raise ConfigError(
                    f"the space's key {param.key}: the value {render(value)} makes the config "
                    f"invalid:\n{error.describe()}",
                    expected=f"{param.key} as a config key, with values its field takes",
                    fix=f"fix or remove {param.key} in the space",
                ) from None


def distributions(space: dict[str, Param]) -> dict[str, Any]:
    """Optuna's distribution for each key."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    made: dict[str, Any] = {}
    for key, param in space.items():
        if param.kind == "choice":
            made[key] = CategoricalDistribution([param.encode(v) for v in param.bounds])
        elif param.kind == "int":
            made[key] = IntDistribution(*param.bounds)
        else:
            made[key] = FloatDistribution(*param.bounds, log=param.kind == "loguniform")
    return made


def grid_points(space: dict[str, Param]) -> dict[str, list[Any]]:
    """The grid sampler's values: every choice, every integer; a float range has none."""
    points: dict[str, list[Any]] = {}
    for key, param in space.items():
        if param.kind == "choice":
            points[key] = [param.encode(v) for v in param.bounds]
        elif param.kind == "int":
            points[key] = list(range(param.bounds[0], param.bounds[1] + 1))
        else:
            raise ConfigError(
                f"--sampler grid: the space's key {key} is a {param.kind} range, not a grid",
                fix=f"give {key} as {{choice: [...]}}, or use --sampler tpe or random",
            )
    return points
