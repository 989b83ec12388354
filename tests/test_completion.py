"""Shell completion: Typer's --install-completion, with run ids completed from the output root."""

from __future__ import annotations

import os
import subprocess
import sys

from dlrun.cli.app import complete_run_id


def make_run_folders(root, *names):
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "run.json").write_text("{}")
    (root / "not-a-run").mkdir()


def test_run_ids_complete_newest_first_with_their_folder_names(output_dir):
    make_run_folders(output_dir, "20261101-100000-wine-3f2a1c", "20261102-100000-sms-3e0b7d")
    assert complete_run_id("3") == [
        ("3e0b7d", "20261102-100000-sms-3e0b7d"),
        ("3f2a1c", "20261101-100000-wine-3f2a1c"),
    ]
    assert complete_run_id("3f") == [("3f2a1c", "20261101-100000-wine-3f2a1c")]
    assert complete_run_id("x") == []


def test_the_shell_gets_run_ids_for_a_run_argument(output_dir):
    make_run_folders(output_dir, "20261101-100000-wine-3f2a1c")
    env = {
        **os.environ,
        "_DLRUN_COMPLETE": "complete_bash",  # what the installed completion script sets
        "COMP_WORDS": "dlrun evaluate 3f",
        "COMP_CWORD": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "dlrun"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3f2a1c"]
