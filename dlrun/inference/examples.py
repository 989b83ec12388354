"""What a saved model is given: inputs encoded as training encoded them, with their ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Examples:
    """Model inputs, one per input id, with their targets when the input had them."""

    x: np.ndarray
    ids: list[Any]
    y: np.ndarray | None = None
    """Encoded targets (class indices, or values), for evaluation."""
    actual: list[Any] | None = None
    """The targets as the input wrote them, shown beside predictions."""
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)
