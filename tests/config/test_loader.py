"""Reading a config: YAML -> `--set` overrides -> defaults filled in and paths resolved."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import CONFIGS, write_config

from dlrun.config import ExperimentConfig, load_config
from dlrun.core.errors import ConfigError

MINIMAL = """\
data: {source: mnist}
model: {type: mlp}
"""


def load(tmp_path: Path, text: str, overrides: list[str] | None = None, name: str = "config.yaml"):
    return load_config(write_config(tmp_path, text, name), overrides or [])


def load_error(tmp_path: Path, text: str, overrides: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text, overrides)
    return str(caught.value)


# Defaults


def test_name_defaults_to_the_file_stem(tmp_path):
    assert load(tmp_path, MINIMAL, name="my_experiment.yaml").name == "my_experiment"


def test_a_name_in_the_file_wins_over_the_file_stem(tmp_path):
    assert load(tmp_path, "name: chosen\n" + MINIMAL, name="other.yaml").name == "chosen"


def test_missing_sections_are_filled_with_defaults(tmp_path):
    config = load(tmp_path, MINIMAL)
    assert config.seed == 42
    assert config.train.epochs == 10
    assert config.train.batch_size == 32
    assert config.train.optimizer.name == "adam"
    assert config.train.optimizer.learning_rate == 0.001
    assert config.train.early_stopping is None
    assert config.report.plots is True
    assert config.data.validation_split == 0.1
    assert config.model.units == [512, 512]


# --set overrides


def test_override_value_is_parsed_as_yaml_so_a_number_becomes_an_int(tmp_path):
    config = load(tmp_path, MINIMAL, ["train.epochs=3"])
    assert config.train.epochs == 3
    assert isinstance(config.train.epochs, int)


def test_override_can_set_a_list(tmp_path):
    assert load(tmp_path, MINIMAL, ["model.units=[256,128]"]).model.units == [256, 128]


def test_override_creates_missing_nested_sections(tmp_path):
    config = load(tmp_path, MINIMAL, ["train.early_stopping.patience=2"])
    assert config.train.early_stopping is not None
    assert config.train.early_stopping.patience == 2


def test_override_replaces_a_list_item_by_index(tmp_path):
    text = """\
data: {source: mnist}
model:
  type: sequential
  layers: [Dense, {Dense: {units: 10}}]
"""
    config = load(tmp_path, text, ["model.layers.0=Flatten"])
    assert config.model.layers == ["Flatten", {"Dense": {"units": 10}}]


def test_overrides_apply_in_order_so_the_last_one_wins(tmp_path):
    assert load(tmp_path, MINIMAL, ["train.epochs=3", "train.epochs=5"]).train.epochs == 5


def test_overridden_values_are_validated_like_the_file(tmp_path):
    message = load_error(tmp_path, MINIMAL, ["train.epochs=0"])
    assert "train.epochs" in message
    assert "received 0" in message


def test_override_without_equals_sign_is_a_config_error(tmp_path):
    message = load_error(tmp_path, MINIMAL, ["train.epochs"])
    assert "KEY=VALUE" in message
    assert "'train.epochs'" in message


def test_override_with_an_empty_key_is_a_config_error(tmp_path):
    assert "KEY=VALUE" in load_error(tmp_path, MINIMAL, ["train..epochs=3"])


def test_override_below_a_bare_optimizer_name_keeps_that_optimizer(tmp_path):
    config = load(
        tmp_path, MINIMAL + "train: {optimizer: sgd}\n", ["train.optimizer.learning_rate=0.1"]
    )
    assert config.train.optimizer.learning_rate == 0.1
    assert config.train.optimizer.name == "sgd"


def test_override_below_a_plain_value_is_an_error_not_a_silent_replacement(tmp_path):
    message = load_error(tmp_path, MINIMAL + "train: {epochs: 3}\n", ["train.epochs.max=4"])
    assert "'train.epochs' holds a value" in message


# Reading the file


def test_missing_file_is_a_config_error_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError, match="config file not found") as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)


def test_yaml_syntax_error_is_a_config_error_naming_the_file(tmp_path):
    path = write_config(tmp_path, "data: {source: mnist\nmodel: [\n")
    with pytest.raises(ConfigError, match="not valid YAML") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_empty_file_is_a_config_error(tmp_path):
    assert "the file is empty" in load_error(tmp_path, "# only a comment\n")


def test_top_level_that_is_not_a_mapping_is_a_config_error(tmp_path):
    message = load_error(tmp_path, "- data\n- model\n")
    assert "the top level must be a mapping" in message
    assert "received: 'list'" in message


def test_python_object_tags_are_rejected_and_never_run(tmp_path):
    canary = tmp_path / "canary"
    text = f"name: !!python/object/apply:os.system ['touch {canary}']\n" + MINIMAL
    assert "not valid YAML" in load_error(tmp_path, text)
    assert not canary.exists()


# Paths


def test_data_path_is_resolved_against_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "experiments"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    text = "data: {source: csv, path: data/table.csv, target: y}\nmodel: {type: mlp}\n"
    config = load_config(write_config(folder, text))
    assert config.data.path == folder / "data" / "table.csv"


def test_idx_image_paths_are_resolved_against_the_config_folder(tmp_path):
    text = "data: {source: idx, images: imgs.gz, labels: sub/labels.gz}\nmodel: {type: mlp}\n"
    config = load(tmp_path, text)
    assert config.data.images == tmp_path / "imgs.gz"
    assert config.data.labels == tmp_path / "sub" / "labels.gz"


def test_absolute_data_path_is_kept(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "table.csv"
    folder = tmp_path / "experiments"
    folder.mkdir()
    text = f"data: {{source: csv, path: '{elsewhere}', target: y}}\nmodel: {{type: mlp}}\n"
    assert load(folder, text).data.path == elsewhere


# Optimizer


def test_bare_optimizer_name_becomes_a_mapping_with_defaults(tmp_path):
    optimizer = load(tmp_path, MINIMAL + "train: {optimizer: adam}\n").train.optimizer
    assert optimizer.name == "adam"
    assert optimizer.learning_rate == 0.001
    assert optimizer.arguments() == {}


def test_extra_optimizer_keys_are_kept_as_constructor_arguments(tmp_path):
    text = MINIMAL + "train: {optimizer: {name: sgd, learning_rate: 0.1, momentum: 0.9}}\n"
    optimizer = load(tmp_path, text).train.optimizer
    assert optimizer.name == "sgd"
    assert optimizer.learning_rate == 0.1
    assert optimizer.arguments() == {"momentum": 0.9}


# The example configs


EXAMPLES = sorted(CONFIGS.glob("*.yaml"))


def test_there_are_example_configs():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_every_example_config_validates(path):
    config = load_config(path)
    assert isinstance(config, ExperimentConfig)


def test_loading_every_example_config_does_not_import_tensorflow():
    # A subprocess: other tests in this session import TensorFlow.
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from dlrun.config import load_config
        for path in sorted(Path({str(CONFIGS)!r}).glob("*.yaml")):
            load_config(path)
        loaded = [name for name in ("tensorflow", "keras") if name in sys.modules]
        assert not loaded, loaded
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
