"""Config mistakes are reported as one `ConfigError` naming the key, the value and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_config

from dlrun.config import load_config
from dlrun.core.errors import ConfigError, DlrunError
from dlrun.data import sources

VALID_DATA = "data: {source: mnist}\n"
VALID_MODEL = "model: {type: mlp}\n"


def config_error(tmp_path: Path, text: str) -> str:
    """The message `load_config` raises for a config file holding `text`."""
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, text))
    return str(caught.value)


def test_config_errors_are_user_errors_with_exit_code_2(tmp_path):
    with pytest.raises(DlrunError) as caught:
        load_config(write_config(tmp_path, VALID_DATA))
    assert caught.value.exit_code == 2


def test_the_message_starts_with_the_config_file(tmp_path):
    message = config_error(tmp_path, VALID_DATA)
    assert message.startswith(f"{tmp_path / 'config.yaml'}: 1 problem in the config")


def test_missing_required_section_is_named(tmp_path):
    assert "model: required key is missing." in config_error(tmp_path, VALID_DATA)


def test_misspelt_top_level_key_suggests_the_right_one(tmp_path):
    message = config_error(tmp_path, VALID_DATA + VALID_MODEL + "trian: {epochs: 3}\n")
    assert "trian: unknown key 'trian'. Did you mean 'train'?" in message
    assert "Expected one of: name, seed, data, model, train, report." in message


def test_wrong_type_names_the_dotted_key_and_the_received_value(tmp_path):
    message = config_error(tmp_path, VALID_DATA + VALID_MODEL + "train: {epochs: ten}\n")
    assert "train.epochs:" in message
    assert "valid integer" in message
    assert "received 'ten'" in message


def test_unknown_model_type_suggests_the_closest_and_lists_all(tmp_path):
    message = config_error(tmp_path, VALID_DATA + "model: {type: mpl}\n")
    assert "model.type: unknown model type 'mpl'." in message
    assert "Did you mean 'mlp'?" in message
    assert "sequential" in message


def test_unknown_data_source_suggests_the_closest_and_lists_all(tmp_path):
    message = config_error(tmp_path, "data: {source: mnst}\n" + VALID_MODEL)
    assert "data.source: unknown data source 'mnst'. Did you mean 'mnist'?" in message
    assert f"Expected one of: {', '.join(sources.names())}." in message


def test_unknown_name_far_from_any_known_one_gets_no_suggestion(tmp_path):
    message = config_error(tmp_path, "data: {source: zzzzzz}\n" + VALID_MODEL)
    assert "unknown data source 'zzzzzz'." in message
    assert "Did you mean" not in message


def test_missing_data_source_lists_the_known_sources(tmp_path):
    message = config_error(tmp_path, "data: {validation_split: 0.2}\n" + VALID_MODEL)
    assert "data.source: required key is missing." in message
    assert ", ".join(sources.names()) in message


def test_misspelt_key_inside_a_model_suggests_that_models_key(tmp_path):
    message = config_error(tmp_path, VALID_DATA + "model: {type: mlp, unitz: [8]}\n")
    # The key as written, without pydantic's union label (`model.mlp.unitz`).
    assert "model.unitz: unknown key 'unitz'. Did you mean 'units'?" in message
    assert "model.mlp" not in message


def test_misspelt_key_inside_a_data_source_suggests_that_sources_key(tmp_path):
    text = "data: {source: csv, path: t.csv, target: y, standardise: false}\n" + VALID_MODEL
    message = config_error(tmp_path, text)
    assert "data.standardise: unknown key 'standardise'. Did you mean 'standardize'?" in message


def test_misspelt_key_in_a_nested_section_names_the_full_path(tmp_path):
    text = VALID_DATA + VALID_MODEL + "train: {early_stopping: {patiense: 3}}\n"
    message = config_error(tmp_path, text)
    assert "train.early_stopping.patiense: unknown key 'patiense'." in message
    assert "Did you mean 'patience'?" in message


def test_every_problem_is_reported_at_once(tmp_path):
    text = """\
data: {source: mnist, validation_split: 3}
model: {type: mlp, dropout: 2}
train: {epochs: ten, batch_size: 0}
"""
    message = config_error(tmp_path, text)
    assert "4 problems in the config" in message
    problems = [line for line in message.splitlines() if line.startswith("  - ")]
    assert [problem.split(":")[0] for problem in problems] == [
        "  - data.validation_split",
        "  - model.dropout",
        "  - train.epochs",
        "  - train.batch_size",
    ]


def test_out_of_range_dropout_names_the_key_and_the_bound(tmp_path):
    message = config_error(tmp_path, VALID_DATA + "model: {type: mlp, dropout: 2}\n")
    assert "model.dropout: expected less than 1; received 2." in message


def test_list_items_are_named_by_index(tmp_path):
    message = config_error(tmp_path, VALID_DATA + "model: {type: mlp, units: [64, 0]}\n")
    assert "model.units[1]: expected greater than 0; received 0." in message
    assert "model.units[0]" not in message


def test_unknown_schedule_type_suggests_the_closest(tmp_path):
    text = VALID_DATA + VALID_MODEL + "train: {optimizer: {schedule: {type: cosin}}}\n"
    message = config_error(tmp_path, text)
    assert "train.optimizer.schedule.type: unknown type 'cosin'." in message
    assert "Did you mean 'cosine'?" in message
    assert "cosine, exponential" in message


def test_negative_learning_rate_names_the_optimizer_key(tmp_path):
    text = VALID_DATA + VALID_MODEL + "train: {optimizer: {name: sgd, learning_rate: -1}}\n"
    message = config_error(tmp_path, text)
    assert "train.optimizer.learning_rate: expected greater than 0; received -1." in message


def test_idx_test_files_must_come_in_pairs(tmp_path):
    text = "data: {source: idx, images: a.gz, labels: b.gz, test_images: c.gz}\n" + VALID_MODEL
    message = config_error(tmp_path, text)
    assert "give both test_images and test_labels, or neither" in message
