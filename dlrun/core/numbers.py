"""Numbers as dlrun's readers meet them: JSON values that may be numbers, and their spread."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def is_number(value: Any) -> bool:
    """An int or float from a run file; `true` is not the number 1 here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (None for one value) and count of some numbers."""

    mean: float
    std: float | None
    n: int

    def text(self, *, count: bool = False) -> str:
        """'0.5123 ± 0.012' (4 and 2 significant digits), with ' (n=3)' when `count`; a single
        value as a table shows it."""
        if self.std is None:
            return f"{self.mean:.4g}"
        return f"{self.mean:.4g} ± {self.std:.2g}" + (f" (n={self.n})" if count else "")


def spread(values: Iterable[Any]) -> Spread | None:
    """The spread of the numbers among `values` (others are skipped); None when there are none."""
    numbers = [float(value) for value in values if is_number(value)]
    if not numbers:
        return None
    n = len(numbers)
    mean = math.fsum(numbers) / n
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in numbers) / (n - 1)) if n > 1 else None
    return Spread(mean, std, n)


def json_ready(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None, so `json.dumps(...,
    allow_nan=False)` writes valid JSON (`null`) rather than the bare `NaN` token."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value
