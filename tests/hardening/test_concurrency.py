"""Four `dlrun train` processes started at once into one output folder: four distinct run
folders, each complete. Same config, so the folder names differ at most in the start second and
a random suffix; `mkdir` is atomic, so a suffix already taken is never shared, only redrawn."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import write_config

TRAININGS = 4


@pytest.mark.slow  # several TensorFlow processes: minutes on 2 cores
def test_four_trainings_at_once_get_four_complete_folders(tmp_path, tiny_images, output_dir):
    config = write_config(
        tmp_path,
        f"""
name: together
data: {{source: idx, images: {tiny_images["images"]}, labels: {tiny_images["labels"]}}}
model: {{type: mlp, units: [8]}}
train: {{epochs: 2, batch_size: 16}}
report: {{plots: false}}
""",
    )
    env = {**os.environ, "DLRUN_OUTPUT_DIR": str(output_dir)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "dlrun", "train", str(config), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(TRAININGS)
    ]
    results = [(process, *process.communicate(timeout=300)) for process in processes]

    for process, _, stderr in results:
        assert process.returncode == 0, stderr[-2000:]
    reported = {json.loads(stdout)["run_dir"] for _, stdout, _ in results}
    folders = sorted(p for p in output_dir.iterdir() if p.name != "latest")
    assert len(reported) == len(folders) == TRAININGS
    assert {str(folder) for folder in folders} == reported
    for folder in folders:
        info = json.loads((folder / "run.json").read_text())
        assert info["status"] == "completed"
        assert json.loads((folder / "metrics.json").read_text())["epochs_run"] == 2
        assert len((folder / "history.csv").read_text().splitlines()) == 1 + 2
        assert {"config.yaml", "data.json", "model.keras"} <= {p.name for p in folder.iterdir()}
        temporary = [p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lock"]
        assert not temporary  # no temp files (`.lock` is the folder's lock file)
    assert len({json.loads((f / "run.json").read_text())["pid"] for f in folders}) == TRAININGS
