"""examples/dvc/dvc.yaml run by DVC itself: `dvc repro` trains into the fixed run folder, and
`dvc metrics show` / `dvc plots show` read its `metrics.json` and `history.csv`.

DVC is not one of dlrun's dependencies: the test uses the `dvc` on PATH (or $DLRUN_TEST_DVC,
e.g. one installed in a virtualenv of its own with `pip install dvc`) and is skipped without
one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "configs" / "data" / "winequality-red.csv"
DVC = os.environ.get("DLRUN_TEST_DVC") or shutil.which("dvc")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(DVC is None, reason="dvc is not installed (pip install dvc)"),
    pytest.mark.skipif(not DATA.is_file(), reason="the wine data is not in configs/data"),
]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def test_dvc_repro_trains_the_stage_and_reads_its_metrics_and_plots(tmp_path):
    repo = tmp_path / "project"
    (repo / "configs" / "data").mkdir(parents=True)
    shutil.copy(ROOT / "configs" / "wine_quality.yaml", repo / "configs")
    shutil.copy(DATA, repo / "configs" / "data")
    shutil.copytree(ROOT / "examples" / "dvc", repo / "examples" / "dvc")
    stage = repo / "examples" / "dvc"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    env.pop("DLRUN_OUTPUT_DIR", None)
    run(["git", "init", "-q"], repo, env)
    run([DVC, "init", "-q"], repo, env)

    run([DVC, "repro"], stage, env)
    assert (stage / "run" / "model.keras").is_file()
    assert (stage / "dvc.lock").is_file()
    metrics = json.loads(run([DVC, "metrics", "show", "--json"], stage, env).stdout)
    [values] = [
        entry["data"]
        for workspace in metrics.values()
        for entry in workspace["data"].values()
        if "data" in entry
    ]
    written = json.loads((stage / "run" / "metrics.json").read_text())
    assert values["test_mae"] == pytest.approx(written["test_mae"])

    plots = run([DVC, "plots", "show", "--json"], stage, env).stdout
    assert "history.csv" in plots and "val_mae" in plots

    # Nothing changed: nothing is trained again. A changed config retrains into the same folder.
    assert "didn't change" in run([DVC, "repro"], stage, env).stdout
    config = stage / "wine_dvc.yaml"
    config.write_text(config.read_text().replace("epochs: 20", "epochs: 3"))
    run([DVC, "repro"], stage, env)
    assert json.loads((stage / "run" / "metrics.json").read_text())["epochs_run"] <= 3
