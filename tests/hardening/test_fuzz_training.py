"""A hand-written, seeded fuzz: configs mutated one to three keys at a time through `dlrun
validate`, and the accepted ones trained for one epoch. Validation must answer every config
with exit 0 or 2 and one message; a config it accepts must train (exit 0), or fail with a
message naming why (exit 2) — never a traceback, and never exit 1 for something validation
could have refused.

CI runs a seeded 300 configs and trains 4; the issue's full run (1,000 and 30, minutes):

    DLRUN_FUZZ_CONFIGS=1000 DLRUN_FUZZ_TRAINED=30 \
        python -m pytest tests/hardening/test_fuzz_training.py
"""

from __future__ import annotations

import copy
import os
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dlrun.cli import app

CONFIGS = int(os.environ.get("DLRUN_FUZZ_CONFIGS", "300"))
TRAINED = int(os.environ.get("DLRUN_FUZZ_TRAINED", "4"))
SEED = 20

runner = CliRunner()

# Values a careless edit or a script writes: wrong types, edges, huge and tiny numbers.
ANY = [None, True, False, 0, 1, -1, 2, 3, 0.5, 1e-9, 1e9, 10**20, float("nan"), "", "x", [], {}]
MUTATIONS: dict[str, list[Any]] = {
    "seed": [0, 7, -1, True, "7", 2**31, 2**64],
    "data.validation_split": [0.0, 0.1, 0.5, 0.99, 1.0, -0.1, True],
    "data.test_split": [0.0, 0.2, 0.9, 1.5, "0.2"],
    "data.target": ["y", "label", "colour", "a", "missing", 3],
    "data.features": [["a"], ["a", "b"], ["colour"], [], ["nope"], "a", [["a"]]],
    "data.limit": [None, 10, 50, 0, -5, 1.5],
    "model.type": ["mlp", "linear", "cnn", "lstm", "transformer", "resnet", "nope"],
    "model.units": [[4], [], [8, 4], [0], [-3], [True], 4, "4", [10**7]],
    "model.activation": ["relu", "tanh", "gelu", "softmax", "nope", 3],
    "model.dropout": [0.0, 0.5, 0.99, 1.0, -0.1, True, "0.1"],
    "train.epochs": [1, 0, -1, True, 1.5, "1"],
    "train.batch_size": [1, 16, 1000, 0, -8, True, 2**40],
    "train.loss": ["mse", "mae", "huber", "binary_crossentropy", "nope", 1],
    "train.metrics": [["mae"], [], ["accuracy"], ["nope"], "mae", [1]],
    "train.optimizer.name": ["adam", "sgd", "rmsprop", "adamw", "nope", ""],
    "train.optimizer.learning_rate": [0.01, 1e-6, 1.0, 0, -0.1, 1e6, True, "0.01"],
    "train.early_stopping": [None, {"patience": 1}, {"patience": -1}, {"monitor": "nope"}],
    "report.plots": [False, True, "yes", 1],
    "report.save_model": [False, True, None],
    "name": ["fuzz", "", "a/b", "[/x]", "\x1b]0;x\x07", "日本語", 3],
}


def base_config(table: Path) -> dict[str, Any]:
    return {
        "name": "fuzz",
        "seed": 1,
        "data": {"source": "csv", "path": str(table), "target": "y", "features": ["a", "b"]},
        "model": {"type": "mlp", "units": [4]},
        "train": {"epochs": 1, "batch_size": 64, "optimizer": {"name": "adam"}},
        "report": {"plots": False, "save_model": False},
    }


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        if not isinstance(tree.get(part), dict):
            tree[part] = {}
        tree = tree[part]
    tree[last] = value


def mutated(rng: random.Random, table: Path) -> tuple[dict[str, Any], list[str]]:
    config = base_config(table)
    changes = []
    for key in rng.sample(sorted(MUTATIONS), rng.randint(1, 3)):
        wild = ANY if rng.random() < 0.2 else []  # now and then, any value at all
        value = copy.deepcopy(rng.choice(MUTATIONS[key] + wild))
        set_dotted(config, key, value)
        changes.append(f"{key}={value!r}")
    return config, changes


def no_traceback(result: Any) -> bool:
    return result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.slow  # trains a few models (about 10 s each here, TensorFlow included)
def test_mutated_configs_validate_cleanly_and_the_accepted_ones_train(tmp_path, tiny_table):
    rng = random.Random(SEED)
    accepted: list[tuple[Path, list[str]]] = []
    for number in range(CONFIGS):
        config, changes = mutated(rng, tiny_table)
        path = tmp_path / f"fuzz-{number}.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        result = runner.invoke(app, ["validate", str(path)])
        assert result.exit_code in (0, 2) and no_traceback(result), (changes, result.output)
        if result.exit_code == 2:
            assert result.stderr.startswith("error: "), (changes, result.stderr)
        else:
            accepted.append((path, changes))
    assert 0.1 * CONFIGS < len(accepted) < 0.9 * CONFIGS  # the mutations reach both answers

    for path, changes in rng.sample(accepted, min(TRAINED, len(accepted))):
        result = runner.invoke(app, ["train", str(path), "--quiet"])
        assert no_traceback(result), (changes, result.output)
        assert result.exit_code in (0, 2), (changes, result.output[-2000:])
        if result.exit_code == 2:
            assert "error: " in result.stderr, (changes, result.stderr)
