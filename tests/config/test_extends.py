"""`extends:`: a config written as changes to another, as README's config reference documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlrun.config import load_config
from dlrun.core.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    """Three files in three folders: child -> family/parent -> base/common, data beside common."""
    write(tmp_path / "base" / "wine.csv", "a,b,quality\n1,2,5\n")
    write(
        tmp_path / "base" / "common.yaml",
        """
name: common
seed: 7
data: {source: csv, path: wine.csv, target: quality, task: regression}
model: {type: mlp, units: [512, 512, 512], dropout: 0.1}
train:
  epochs: 100
  optimizer: {name: sgd, learning_rate: 0.001, momentum: 0.9}
  early_stopping: {monitor: val_loss, patience: 10}
""",
    )
    write(
        tmp_path / "family" / "parent.yaml",
        """
extends: ../base/common.yaml
model: {units: [64, 64]}
train: {epochs: 20}
""",
    )
    return write(
        tmp_path / "child.yaml",
        """
extends: family/parent.yaml
train:
  optimizer: {learning_rate: 0.01}
  early_stopping: null
""",
    )


def test_a_chain_of_three_files_merges_mappings_and_replaces_everything_else(chain: Path):
    config = load_config(chain)

    assert config.model.units == [64, 64]  # a list replaces the base's list
    assert config.model.dropout == 0.1  # untouched keys of a merged mapping stay
    assert config.train.epochs == 20  # the middle file wins over the first
    assert config.train.optimizer.name == "sgd"  # the child's mapping merges into the base's
    assert config.train.optimizer.learning_rate == 0.01
    assert config.train.optimizer.arguments() == {"momentum": 0.9}
    assert config.train.early_stopping is None  # null replaces
    assert config.seed == 7


def test_paths_in_a_base_stay_relative_to_the_base_file(chain: Path, tmp_path: Path):
    config = load_config(chain)
    assert config.data.path == (tmp_path / "base" / "wine.csv").absolute()


def test_the_name_is_not_inherited(chain: Path):
    assert load_config(chain).name == "child"


def test_overrides_apply_to_the_merged_config(chain: Path):
    config = load_config(chain, ["model.units=[8]", "train.optimizer.momentum=0.5"])
    assert config.model.units == [8]
    assert config.train.optimizer.arguments() == {"momentum": 0.5}


def test_a_bare_optimizer_name_replaces_the_bases_optimizer_settings(tmp_path: Path, chain: Path):
    child = write(tmp_path / "adam.yaml", "extends: child.yaml\ntrain: {optimizer: adam}\n")
    optimizer = load_config(child).train.optimizer
    assert (optimizer.name, optimizer.learning_rate, optimizer.arguments()) == ("adam", 0.001, {})


def test_a_list_of_bases_merges_in_order(tmp_path: Path, chain: Path):
    write(tmp_path / "wide.yaml", "model: {type: mlp, units: [256]}\ntrain: {batch_size: 8}\n")
    both = write(tmp_path / "both.yaml", "extends: [child.yaml, wide.yaml]\n")
    config = load_config(both)
    assert config.model.units == [256]  # the later base wins
    assert config.train.batch_size == 8
    assert config.train.epochs == 20  # from the earlier one


def test_a_cycle_is_an_error_naming_the_circle(tmp_path: Path):
    write(tmp_path / "a.yaml", "extends: b.yaml\nmodel: {type: mlp}\n")
    write(tmp_path / "b.yaml", "extends: c.yaml\n")
    write(tmp_path / "c.yaml", "extends: a.yaml\n")

    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "a.yaml")

    message = caught.value.describe()
    assert "a.yaml -> b.yaml -> c.yaml -> a.yaml" in message
    assert "remove `extends`" in message


def test_a_file_that_extends_itself_is_a_cycle(tmp_path: Path):
    write(tmp_path / "self.yaml", "extends: ./self.yaml\n")
    with pytest.raises(ConfigError, match=re.escape("self.yaml -> self.yaml")):
        load_config(tmp_path / "self.yaml")


def test_a_missing_base_is_an_error_naming_the_file_that_extends_it(tmp_path: Path):
    child = write(tmp_path / "child.yaml", "extends: nowhere.yaml\n")
    with pytest.raises(ConfigError) as caught:
        load_config(child)
    error = caught.value
    assert "nowhere.yaml" in error.message and error.source == str(child)
    assert "relative to the file that extends it" in error.describe()


@pytest.mark.parametrize("value", ["3", "[]", "{path: base.yaml}"])
def test_extends_must_name_files(tmp_path: Path, value: str):
    child = write(tmp_path / "child.yaml", f"extends: {value}\n")
    with pytest.raises(ConfigError, match="expected a config file name, or a list of them"):
        load_config(child)


def test_a_base_with_a_mistake_is_reported_like_any_config(tmp_path: Path, chain: Path):
    write(tmp_path / "typo.yaml", "extends: child.yaml\nmodel: {unitz: [3]}\n")
    with pytest.raises(
        ConfigError, match=re.escape("model.unitz: unknown key 'unitz'. Did you mean 'units'")
    ):
        load_config(tmp_path / "typo.yaml")


def test_bases_named_again_and_again_are_bounded(tmp_path: Path):
    """Each file naming the next one twice would double the reads at every level."""
    for level in range(12):
        write(
            tmp_path / f"level{level}.yaml",
            f"extends: [level{level + 1}.yaml, level{level + 1}.yaml]\n",
        )
    write(tmp_path / "level12.yaml", "model: {type: mlp}\n")
    with pytest.raises(ConfigError, match="more than 100 config files to read"):
        load_config(tmp_path / "level0.yaml")
