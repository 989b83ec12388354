"""The `dlrun` command as users run it: exit codes, output, and no TensorFlow where not needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.core.errors import counted
from tests.conftest import CONFIGS, write_config

runner = CliRunner()


def dlrun(
    *args: str, env: dict | None = None, importtime: bool = False
) -> subprocess.CompletedProcess:
    """The real entry point in a fresh process (`python -m dlrun` runs the same `app`)."""
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "dlrun", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def imported(result: subprocess.CompletedProcess, module: str) -> bool:
    # `-X importtime` lists every module a process imports, on stderr.
    return any(line.rsplit("|", 1)[-1].strip() == module for line in result.stderr.splitlines())


def imported_tensorflow(result: subprocess.CompletedProcess) -> bool:
    return imported(result, "tensorflow")


def tiny_config(tmp_path: Path, tiny_images: dict[str, Path], extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
name: tiny
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: mlp, units: [16]}}
train: {{epochs: 2, batch_size: 8, optimizer: {{name: adam, learning_rate: 0.01}}}}
{extra}
""",
    )


def test_help_lists_the_commands_without_importing_tensorflow():
    result = dlrun("--help", importtime=True)
    assert result.returncode == 0
    assert "train" in result.stdout and "validate" in result.stdout
    assert not imported_tensorflow(result)


EXAMPLE_CONFIGS = sorted(CONFIGS.glob("*.yaml"))

# One fresh process validates every example config in turn through the app `python -m dlrun`
# runs, and says after each which of the heavy modules are loaded: the same check as a process
# per config (which cost the fast loop a Python and dlrun start-up per config).
VALIDATE_EACH = """
import json, sys
from typer.testing import CliRunner
from dlrun.cli import app
for path in sys.argv[1:]:
    result = CliRunner().invoke(app, ["validate", path])
    loaded = [name for name in ("tensorflow", "keras", "numpy") if name in sys.modules]
    print(json.dumps({"config": path, "exit_code": result.exit_code,
                      "stderr": result.stderr, "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def validated_examples() -> dict[str, dict]:
    result = subprocess.run(
        [sys.executable, "-c", VALIDATE_EACH, *map(str, EXAMPLE_CONFIGS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {entry["config"]: entry for entry in map(json.loads, result.stdout.splitlines())}


@pytest.mark.parametrize("config", EXAMPLE_CONFIGS, ids=lambda p: p.name)
def test_validate_every_example_config_without_importing_tensorflow(
    config: Path, validated_examples
):
    result = validated_examples[str(config)]
    assert result["exit_code"] == 0, result["stderr"][-2000:]
    assert "is valid" in result["stderr"]
    # numpy alone costs validate a quarter of its 0.5 s budget; data is only read by `train`.
    # (Loaded by this config or one validated before it in the same process.)
    assert result["loaded"] == []


def test_validate_json_prints_the_resolved_config_with_overrides():
    result = runner.invoke(
        app,
        [
            "validate",
            str(CONFIGS / "wine_quality.yaml"),
            "--json",
            "--set",
            "train.epochs=3",
            "--set",
            "model.units=[64,32]",
        ],
    )
    assert result.exit_code == 0
    resolved = json.loads(result.stdout)
    assert resolved["train"]["epochs"] == 3
    assert resolved["model"]["units"] == [64, 32]
    assert resolved["model"]["activation"] == "relu"  # a default, filled in
    assert Path(resolved["data"]["path"]).is_absolute()


def test_validate_reports_a_misspelt_key_with_exit_2_and_no_traceback(tmp_path):
    config = write_config(
        tmp_path, "data: {source: mnist}\nmodel: {type: mlp}\ntrian: {epochs: 3}\n"
    )
    result = dlrun("validate", str(config))
    assert result.returncode == 2
    assert "trian" in result.stderr and "Did you mean 'train'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_json_prints_exactly_one_json_line(tmp_path, tiny_images, output_dir):
    result = dlrun(
        "train",
        str(tiny_config(tmp_path, tiny_images)),
        "--json",
        env={**__import__("os").environ, "DLRUN_OUTPUT_DIR": str(output_dir)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["status"] == "completed"
    assert Path(report["run_dir"]).parent == output_dir
    assert 0 <= report["metrics"]["test_accuracy"] <= 1


def test_train_prints_progress_and_a_summary(tmp_path, tiny_images):
    result = runner.invoke(app, ["train", str(tiny_config(tmp_path, tiny_images))])
    assert result.exit_code == 0, result.output
    assert "epoch 2/2" in result.stderr
    assert "final metrics" in result.stdout
    assert "run folder:" in result.stdout


def test_train_quiet_prints_only_the_run_folder(tmp_path, tiny_images, output_dir):
    result = runner.invoke(app, ["train", str(tiny_config(tmp_path, tiny_images)), "--quiet"])
    assert result.exit_code == 0
    [run_dir] = [p for p in output_dir.iterdir() if p.name != "latest"]
    assert result.stdout == f"run folder: {run_dir}\n"
    assert "epoch" not in result.stderr


def test_train_honours_output_dir(tmp_path, tiny_images):
    target = tmp_path / "elsewhere"
    result = runner.invoke(
        app, ["train", str(tiny_config(tmp_path, tiny_images)), "-q", "-o", str(target)]
    )
    assert result.exit_code == 0
    assert sorted(p.name for p in target.iterdir())[1:] == ["latest"]  # and its pointer


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["train.epochs=ten"], ["train.epochs", "'ten'"]),
        (["train.optimizer.name=adamm"], ["unknown optimizer 'adamm'", "sgd", "rmsprop"]),
        (["data.images=missing-images.gz"], ["missing-images.gz", "not found"]),
        (["model.type=mpl"], ["model.type", "Did you mean 'mlp'?"]),
    ],
)
def test_train_rejects_bad_input_with_exit_2(
    tmp_path, tiny_images, output_dir, overrides, expected
):
    args = ["train", str(tiny_config(tmp_path, tiny_images))]
    for override in overrides:
        args += ["--set", override]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    for fragment in expected:
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert not output_dir.exists() or not any(output_dir.iterdir())


def test_train_exit_1_when_training_fails_and_the_run_says_why(tmp_path, tiny_images):
    config = tiny_config(tmp_path, tiny_images)
    result = runner.invoke(
        app,
        [
            "train",
            str(config),
            "--json",
            "--set",
            "train.optimizer.learning_rate=10",
            "--set",
            "train.optimizer.name=sgd",
            "--set",
            "model.activation=linear",  # nothing bounds the logits: at this rate they overflow
            "--set",
            "train.epochs=20",
        ],
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    run = json.loads((Path(report["run_dir"]) / "run.json").read_text())
    assert run["status"] == "failed"


def test_python_dash_m_dlrun_shows_the_version():
    result = dlrun("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("dlrun ")


def test_summary_prints_the_layers_and_parameter_count_without_training(
    tmp_path, tiny_images, output_dir
):
    result = runner.invoke(app, ["summary", str(tiny_config(tmp_path, tiny_images)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # 8x8 inputs -> Dense 16 -> 3 classes: (64 + 1) * 16 + (16 + 1) * 3 parameters.
    assert report["params"] == (64 + 1) * 16 + (16 + 1) * 3
    assert [layer["class"] for layer in report["layers"]][-1] == "Dense"
    assert not output_dir.exists()


def test_a_model_that_cannot_read_the_data_is_exit_2(tmp_path, tiny_table):
    config = write_config(
        tmp_path, f"data: {{source: csv, path: {tiny_table}, target: y}}\nmodel: {{type: cnn}}\n"
    )
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 2
    assert "model type 'cnn' needs images data, but the data source gives table" in result.stderr


def test_messages_count_in_the_singular_for_one():
    assert counted(1, "epoch") == "1 epoch"
    assert counted(0, "epoch") == "0 epochs"
    assert counted(3, "run") == "3 runs"
