"""Every example config trains from a fresh clone: each loads, and no path in it (including the
`--set` recipes in its comments) points outside the repository (a user's clone has no
`../shared`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dlrun.config import load_config
from tests.conftest import CONFIGS, ROOT

EXAMPLES = sorted(CONFIGS.rglob("*.yaml"))
PATHISH = re.compile(r"[\w.\-/]+\.(?:csv|gz|parquet|tfrecord|txt)\b|\.\./[\w.\-/]+")


def strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_example_paths_stay_inside_the_repository(config: Path):
    text = config.read_text()
    found = PATHISH.findall(text) + [
        s for s in strings(yaml.safe_load(text)) if "/" in s and PATHISH.search(s)
    ]
    for path in found:
        resolved = (config.parent / path).resolve()
        assert resolved.is_relative_to(ROOT), f"{config.name}: {path} is outside the repository"
        assert "shared" not in resolved.relative_to(ROOT).parts


@pytest.mark.parametrize(
    "config", sorted((CONFIGS / "tutorials").glob("*.yaml")), ids=lambda p: p.name
)
def test_the_tutorial_configs_load_and_their_data_ships_with_them(config: Path):
    # Each tutorial trains in a fresh clone: none names a data set that must be downloaded
    # (`mnist`, `fashion_mnist`); their files are in configs/data/.
    data = load_config(config).data
    shipped = [getattr(data, key, None) for key in ("path", "images", "labels")]
    assert data.source not in ("mnist", "fashion_mnist")
    assert all(Path(p).is_file() for p in shipped if p is not None)
    assert any(shipped)
    assert all(Path(p).resolve().is_relative_to(CONFIGS / "data") for p in shipped if p)
