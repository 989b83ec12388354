"""`dlrun schema`: a JSON Schema a standard validator (and an editor) checks configs with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from dlrun.cli import app
from tests.conftest import CONFIGS

runner = CliRunner()


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    Draft202012Validator.check_schema(schema)  # a well-formed draft 2020-12 schema
    return Draft202012Validator(schema)


def problems(validator: Draft202012Validator, text: str) -> list[str]:
    return [error.message for error in validator.iter_errors(yaml.safe_load(text))]


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_validates(validator: Draft202012Validator, config: Path):
    assert problems(validator, config.read_text()) == []


@pytest.mark.parametrize(
    "text",
    [
        "data: {source: mnist}\nmodel: {type: mlp, unitz: [3]}\n",  # misspelt key
        "data: {source: mnist}\nmodel: {type: mlp}\ntrain: {epochs: ten}\n",  # wrong type
        "data: {source: mnist}\nmodel: {type: perceptron}\n",  # unknown model
        "data: {source: csv, path: x.csv}\nmodel: {type: mlp}\n",  # a required key missing
        "data: {path: x.csv, target: y}\nmodel: {type: mlp}\n",  # no source
        "model: {type: mlp}\n",  # no data
        "data: {source: mnist}\nmodel: {type: mlp}\ntrian: {}\n",  # unknown section
    ],
)
def test_mistakes_are_reported(validator: Draft202012Validator, text: str):
    assert problems(validator, text)


def test_short_forms_the_loader_accepts_are_valid(validator: Draft202012Validator):
    text = "data: {source: mnist}\nmodel: {type: mlp}\ntrain: {optimizer: sgd}\n"
    assert problems(validator, text) == []  # no name (the file's), a bare optimizer name


def test_a_file_with_extends_may_hold_only_changes(validator: Draft202012Validator):
    changes = "extends: base.yaml\ndata: {path: other.csv}\nmodel: {units: [8]}\n"
    assert problems(validator, changes) == []
    assert problems(validator, changes.replace("units", "unitz"))  # still checked
    assert problems(validator, changes.removeprefix("extends: base.yaml\n"))  # not without it


def test_schema_out_writes_the_same_schema_to_a_file(tmp_path: Path):
    target = tmp_path / "dlrun.schema.json"
    result = runner.invoke(app, ["schema", "--out", str(target)])
    assert result.exit_code == 0
    assert json.loads(target.read_text()) == json.loads(runner.invoke(app, ["schema"]).stdout)
