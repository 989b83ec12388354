"""Issue 20, item 3: a crafted `model.keras` is exit 2 naming the file, and no code runs.

The files are written with zipfile (no Keras save), as an attacker would write them."""

from __future__ import annotations

import base64
import json
import marshal
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.core.errors import DataError
from dlrun.models.saved import load_saved_model
from tests.runs.run_folders import write_run

runner = CliRunner()

METADATA = {"keras_version": "3.15.1", "date_saved": "2026-12-01@12:00:00"}


def layer(class_name: str, config: dict, module: str | None = "keras.layers") -> dict:
    return {"module": module, "class_name": class_name, "config": config, "registered_name": None}


def model_config(*layers: dict) -> dict:
    inputs = layer("InputLayer", {"batch_shape": [None, 3], "dtype": "float32", "name": "x"})
    return layer("Sequential", {"name": "m", "layers": [inputs, *layers]}, module="keras")


def canary_code(canary: Path) -> str:
    source = compile(f"open({str(canary)!r}, 'w').close()", "<crafted>", "exec")
    return base64.b64encode(marshal.dumps(source)).decode()


def crafted(tmp_path: Path, canary: Path) -> dict[str, object]:
    return {
        "os.system": model_config(
            {"module": "os", "class_name": "system", "config": {"command": f"touch {canary}"}}
        ),
        "builtins.exec": model_config(
            layer(
                "Dense",
                {
                    "units": 2,
                    "activation": {
                        "module": "builtins",
                        "class_name": "exec",
                        "config": {"source": f"open({str(canary)!r}, 'w')"},
                        "registered_name": None,
                    },
                },
            )
        ),
        "marshalled activation": model_config(
            layer(
                "Dense",
                {
                    "units": 2,
                    "activation": {
                        "class_name": "__lambda__",
                        "config": {"code": canary_code(canary), "defaults": None, "closure": None},
                    },
                },
            )
        ),
        "StringLookup of /etc/passwd": model_config(
            layer("StringLookup", {"vocabulary": "/etc/passwd", "name": "lookup"})
        ),
        "units of the wrong type": model_config(layer("Dense", {"units": {"x": []}})),
        "config a list": model_config(layer("Dense", [1, 2, 3])),
        "unknown class": model_config(layer("NoSuchLayer", {"units": 2})),
        "not a mapping": ["just", "a", "list"],
        "no class": {"config": {}},
    }


def write_keras(path: Path, config: object, *, weights: bytes | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps(METADATA))
        archive.writestr("config.json", json.dumps(config))
        if weights is not None:
            archive.writestr("model.weights.h5", weights)
    return path


CASES = [
    "os.system",
    "builtins.exec",
    "marshalled activation",
    "StringLookup of /etc/passwd",
    "units of the wrong type",
    "config a list",
    "unknown class",
    "not a mapping",
    "no class",
]


@pytest.mark.parametrize("case", CASES)
def test_a_crafted_model_file_is_a_data_error_naming_it_and_runs_nothing(tmp_path, case):
    canary = tmp_path / "canary"
    path = write_keras(tmp_path / "model.keras", crafted(tmp_path, canary)[case])
    with pytest.raises(DataError) as caught:
        load_saved_model(path)
    assert str(path) in str(caught.value)
    assert not canary.exists()


def test_a_non_zip_model_file_says_it_is_not_a_keras_model(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("hello, not a zip")
    with pytest.raises(DataError, match="is not a Keras model file") as caught:
        load_saved_model(path)
    assert "not found" not in str(caught.value)
    archive = write_keras(tmp_path / "empty.keras", {})
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("other.txt", "x")
    with pytest.raises(DataError, match=r"has no config\.json"):
        load_saved_model(archive)


@pytest.mark.parametrize("case", ["os.system", "units of the wrong type"])
def test_export_of_a_run_with_a_crafted_model_exits_2_naming_the_file(tmp_path, case):
    canary = tmp_path / "canary"
    run = write_run(tmp_path / "root")
    write_keras(run / runs.MODEL_FILE, crafted(tmp_path, canary)[case])
    result = runner.invoke(app, ["export", str(run)])
    assert result.exit_code == 2, result.output
    assert str(run / runs.MODEL_FILE) in result.stderr
    assert "Traceback" not in result.output
    assert not canary.exists()
