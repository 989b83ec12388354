"""How fast the CLI answers: `--help`, `validate`, `compare` over 1,000 runs, and process start
to the first training step of `dlrun train`. Each is a fresh process, as a user runs it.

    python benchmarks/cli_speed.py               # 5 repeats each
    python benchmarks/cli_speed.py --repeats 10

Targets (README, performance): --help < 0.3 s, validate < 0.5 s, compare over 1,000 runs < 1 s,
none of them importing TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_runs import make_runs, time_command, user_environment

ROOT = Path(__file__).resolve().parent.parent


def imports_tensorflow(args: list[str]) -> bool:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dlrun", *args], capture_output=True, text=True
    )
    return any(
        line.rsplit("|", 1)[-1].strip() == "tensorflow" for line in result.stderr.splitlines()
    )


def start_to_first_step(config: str, repeats: int, outputs: Path) -> list[float]:
    """From `Popen` to the end of the first training step (recorded by the run in run.json)."""
    timings = []
    for _ in range(repeats):
        begin = time.time()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "dlrun",
                "train",
                config,
                "--json",
                "-o",
                str(outputs),
                "--set",
                "train.epochs=1",
                "--set",
                "report.plots=false",
            ],
            capture_output=True,
            text=True,
            env=user_environment(),
        )
        run_dir = Path(json.loads(result.stdout)["run_dir"])
        first_step = json.loads((run_dir / "run.json").read_text())["first_step_unix_time"]
        timings.append(first_step - begin)
    return timings


def show(
    label: str, timings: list[float], target: float | None = None, tf: bool | None = None
) -> None:
    median = statistics.median(timings)
    line = f"{label:55s} median {median:.3f} s (min {min(timings):.3f})"
    if target is not None:
        line += f"  target < {target} s: {'yes' if median < target else 'NO'}"
    if tf is not None:
        line += f"  imports TensorFlow: {'YES' if tf else 'no'}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    os.chdir(ROOT)
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    validate = ["validate", "configs/fashion_mnist_mlp.yaml"]
    show(
        "dlrun --help",
        time_command(["--help"], options.repeats),
        0.3,
        imports_tensorflow(["--help"]),
    )
    show(
        "dlrun validate configs/fashion_mnist_mlp.yaml",
        time_command(validate, options.repeats),
        0.5,
        imports_tensorflow(validate),
    )
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "outputs"
        make_runs(root, 1000)
        compare = ["compare", str(root)]
        show(
            "dlrun compare (1,000 runs)",
            time_command(compare, options.repeats),
            1.0,
            imports_tensorflow(compare),
        )
        show(
            "dlrun train wine_quality: process start -> first step",
            start_to_first_step("configs/wine_quality.yaml", options.repeats, Path(scratch) / "t"),
        )


if __name__ == "__main__":
    main()
