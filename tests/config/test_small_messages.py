"""Messages a new user meets first: a tab-indented YAML, an empty config."""

from __future__ import annotations

import pytest

from dlrun.config import load_config
from dlrun.core.errors import ConfigError


def test_a_tab_indented_config_says_yaml_does_not_allow_tabs_with_the_line(tmp_path):
    path = tmp_path / "tabs.yaml"
    path.write_text("name: x\ndata:\n\tsource: csv\n")
    with pytest.raises(ConfigError, match="line 3: YAML does not allow tabs for indentation"):
        load_config(path)


def test_an_empty_config_shows_what_a_minimal_one_looks_like(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "data: {source: csv" in caught.value.fix and "model: {type: mlp}" in caught.value.fix
    assert "configs/" not in caught.value.fix  # a user's own project has no such folder
