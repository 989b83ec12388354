"""Issue 20, item 8: what validation can know, it checks: booleans are not numbers in layer
arguments, learning rates and embedding widths have sane bounds, and only plain YAML tags load."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config.safe_yaml import load_yaml
from dlrun.core.errors import ConfigError
from tests.conftest import write_config

runner = CliRunner()

BASE = "data: {source: mnist}\n"


def validate(tmp_path, text: str, *overrides: str):
    config = write_config(tmp_path, BASE + text)
    sets = [part for override in overrides for part in ("--set", override)]
    return runner.invoke(app, ["validate", str(config), *sets])


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        ("{Dropout: {rate: true}}", "are not numbers here"),
        ("{Dense: {units: false}}", "are not numbers here"),
        ("{Dropout: {rate: 1.5}}", "a rate from 0 up to"),
        ("{Dense: {units: 0}}", "a whole number from 1 to"),
        ("{Dense: {units: 5000000}}", "a whole number from 1 to"),
        ("{Conv2D: {filters: 8, kernel_size: [3, true]}}", "are not numbers here"),
    ],
)
def test_layer_arguments_that_are_numbers_are_checked(tmp_path, layer, expected):
    result = validate(tmp_path, f"model: {{type: sequential, layers: [Flatten, {layer}]}}\n")
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "model.layers" in result.stderr


def test_sane_layer_arguments_still_validate(tmp_path):
    result = validate(
        tmp_path,
        "model: {type: sequential, layers: [Flatten, {Dense: {units: 64, use_bias: true}}, "
        "{Dropout: {rate: 0.2}}, {Dense: {units: 10, activation: softmax}}]}\n",
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "override", "key"),
    [
        ("model: {type: mlp}\n", "train.optimizer.learning_rate=797687", "learning_rate"),
        ("model: {type: mlp}\n", "train.optimizer.learning_rate=10.5", "learning_rate"),
        ("model: {type: lstm}\n", "model.embedding_dim=546503", "embedding_dim"),
        ("model: {type: transformer}\n", "model.embed_dim=546503", "embed_dim"),
    ],
)
def test_learning_rates_and_embedding_widths_have_upper_bounds(tmp_path, text, override, key):
    result = validate(tmp_path, text, override)
    assert result.exit_code == 2, result.output
    assert key in result.stderr and "less than or equal to" in result.stderr


@pytest.mark.parametrize(
    "tag",
    [
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!omap [{a: 1}]",
        "!!pairs [{a: 1}]",
        "!!timestamp 2026-12-01",
    ],
)
def test_yaml_tags_that_are_not_plain_data_are_refused(tag):
    with pytest.raises(ConfigError, match=r"the tag !!.* is not allowed"):
        load_yaml(f"name: {tag}\n", source="config.yaml")


def test_plain_core_tags_load_and_an_unquoted_date_is_text():
    assert load_yaml("a: !!str 5\nb: !!int '7'\nc: 2026-12-01\n", source="x") == {
        "a": "5",
        "b": 7,
        "c": "2026-12-01",
    }
