"""Models and data sources from outside dlrun: a package's entry point registers them.

The plugin here is a real installed distribution (a `.dist-info` folder with entry_points.txt
on the path), found by `importlib.metadata` exactly as a pip-installed package would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN = '''
"""A linear model for dlrun, registered from outside the package."""

from typing import Literal

from pydantic import Field, PositiveInt

from dlrun.models.base import ModelParams
from dlrun.models.heads import apply_head
from dlrun.models.inputs import model_input
from dlrun.models.registry import models


class TinyLinearParams(ModelParams):
    type: Literal["tiny_linear"] = "tiny_linear"
    units: PositiveInt = Field(8, description="Width of the one hidden layer.")


@models.register("tiny_linear", TinyLinearParams)
def build_tiny_linear(params, spec):
    """One hidden Dense layer, then the task's head."""
    import keras

    inputs, x = model_input(spec)
    x = keras.layers.Dense(params.units)(x)
    return keras.Model(inputs, apply_head(spec, x, inputs), name="tiny_linear")
'''


def install_plugin(site: Path, *, source: str = PLUGIN, group: str = "dlrun.models") -> Path:
    """A distribution `tiny-plugin` with one entry point, as pip would leave it on disk."""
    package = site / "tiny_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(source)
    info = site / "tiny_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\ntiny_linear = tiny_plugin\n")
    return site


def dlrun(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "dlrun", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_a_plugin_model_is_listed_with_its_params(tmp_path):
    site = install_plugin(tmp_path / "site")
    listed = dlrun(site, "models", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    by_name = {entry["name"]: entry for entry in json.loads(listed.stdout)}
    assert "mlp" in by_name  # dlrun's own are still there
    tiny = by_name["tiny_linear"]
    assert tiny["summary"] == "One hidden Dense layer, then the task's head."
    own = [param for param in tiny["params"] if param["name"] != "round_output"]
    assert own == [
        {
            "name": "units",
            "type": "int",
            "required": False,
            "default": 8,
            "description": "Width of the one hidden layer.",
        }
    ]
    assert "round_output" in {param["name"] for param in tiny["params"]}  # every model's


def test_a_plugin_model_trains_like_a_built_in_one(tmp_path, tiny_table):
    site = install_plugin(tmp_path / "site")
    config = tmp_path / "plugin.yaml"
    config.write_text(
        textwrap.dedent(
            f"""
            name: plugin
            data: {{source: csv, path: {tiny_table}, target: y, features: [a, b]}}
            model: {{type: tiny_linear, units: 4}}
            train: {{epochs: 2, batch_size: 32}}
            report: {{plots: false}}
            """
        )
    )
    trained = dlrun(site, "train", str(config), "--json", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert result["status"] == "completed"
    assert "test_loss" in result["metrics"]
    saved = json.loads((Path(result["run_dir"]) / "run.json").read_text())
    assert saved["model_type"] == "tiny_linear"


def test_without_the_plugin_the_type_is_unknown(tmp_path):
    # The same config, no plugin on the path: the closest-match error, exit 2.
    config = tmp_path / "plugin.yaml"
    config.write_text("data: {source: mnist}\nmodel: {type: tiny_linear}\n")
    checked = dlrun(tmp_path / "empty", "validate", str(config), cwd=tmp_path)
    assert checked.returncode == 2
    assert "unknown model type 'tiny_linear'" in checked.stderr


def test_a_broken_plugin_is_named_not_a_traceback(tmp_path):
    site = install_plugin(tmp_path / "site", source="raise RuntimeError('half-installed')\n")
    listed = dlrun(site, "models", cwd=tmp_path)
    assert listed.returncode == 2
    assert "the plugin 'tiny_linear' (dlrun.models: tiny_plugin) failed to load" in listed.stderr
    assert "Traceback" not in listed.stderr


SOURCE_PLUGIN = '''
"""A data source for dlrun from outside the package: CSV files under another name."""

from typing import Literal

from dlrun.data.registry import sources
from dlrun.data.tabular import CsvParams


class SemicolonCsvParams(CsvParams):
    source: Literal["semicolon_csv"] = "semicolon_csv"
    delimiter: str = ";"


@sources.register("semicolon_csv", SemicolonCsvParams)
def load_semicolon_csv(params, seed):
    """CSV files separated by semicolons."""
    return sources.get("csv").build(params, seed)
'''


def test_a_plugin_data_source_is_listed_and_validates(tmp_path, tiny_table):
    site = install_plugin(tmp_path / "site", source=SOURCE_PLUGIN, group="dlrun.data_sources")
    listed = dlrun(site, "sources", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "semicolon_csv" in {entry["name"] for entry in json.loads(listed.stdout)}
    config = tmp_path / "source.yaml"
    config.write_text(
        f"data: {{source: semicolon_csv, path: {tiny_table}, target: y}}\nmodel: {{type: mlp}}\n"
    )
    checked = dlrun(site, "validate", str(config), "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["data"]["delimiter"] == ";"
