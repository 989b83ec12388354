"""How long `dlrun runs`, `dlrun compare` and `compare --filter` take over 10,000 run folders
(the issue asks for under 1 s each), read through the output root's run index.

Makes N synthetic run folders in a temporary folder, written with dlrun's own run-folder writer
and schema (`config.yaml`, `run.json`, `data.json`, `history.csv`, `metrics.json`; a mix of
regression and 10-class classification runs, several models, optimizers, learning rates and
seeds, a few failed, interrupted and crashed runs), then times the real command in a fresh
process, as a user would run it: Python start-up, imports, checking the index against every
folder, printing. The first command builds the index (timed on its own); the others find it.
The commands take turns (one round runs each once, after an untimed round that fills the
bytecode and file caches), so a burst of load elsewhere falls on all of them alike; the
median wall-clock and CPU seconds (user + system of the command) of the rounds are printed,
with the machine's load average before and after: wall-clock time is the user's figure, and
is only that of an idle machine when the load average is well under the core count.

    python benchmarks/compare_runs.py            # 10,000 runs, 7 rounds
    python benchmarks/compare_runs.py --runs 1000 --repeats 3 --keep /tmp/many-runs
    python benchmarks/compare_runs.py --keep /tmp/many-runs --tables-only --repeats 9
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from dlrun import runs
from dlrun.runs.index import INDEX_FILE

MODELS = [
    {"type": "mlp", "units": [512, 512], "activation": "relu", "dropout": 0.0},
    {"type": "mlp", "units": [256, 128], "activation": "relu", "dropout": 0.2},
    {"type": "mlp", "units": [], "activation": "relu", "dropout": 0.0},
    {
        "type": "sequential",
        "layers": [
            "Flatten",
            {"Dense": {"units": 512, "activation": "relu"}},
            {"Dense": {"units": 10}},
        ],
    },
]
OPTIMIZERS = ["adam", "sgd", "rmsprop", "adamw"]


def config_for(rng: random.Random, index: int, classification: bool) -> dict:
    model = dict(rng.choice(MODELS))
    data = (
        {"source": "idx", "images": "data/t10k-images-idx3-ubyte.gz", "test_split": 0.1}
        if classification
        else {"source": "csv", "path": "data/winequality-red.csv", "target": "quality"}
    )
    return {
        "name": "mnist_sweep" if classification else "wine_sweep",
        "seed": index % 7,
        "data": {"validation_split": 0.1, "limit": None, **data},
        "model": model,
        "train": {
            "epochs": rng.choice([10, 20, 50]),
            "batch_size": rng.choice([32, 64, 256]),
            "optimizer": {
                "name": rng.choice(OPTIMIZERS),
                "learning_rate": rng.choice([0.1, 0.01, 0.001, 0.0003]),
                "schedule": None,
            },
            "loss": "sparse_categorical_crossentropy" if classification else "mae",
            "metrics": ["accuracy"] if classification else ["mae", "mse"],
            "class_weight": None,
            "early_stopping": {"monitor": "val_loss", "patience": 5, "min_delta": 0.0},
            "steps_per_execution": 1,
            "device": "auto",
            "deterministic": False,
        },
        "report": {"plots": True, "save_model": True},
    }


def metrics_for(rng: random.Random, classification: bool, epochs: int) -> dict:
    names = ["loss", "accuracy"] if classification else ["loss", "mae", "mse"]
    values = {name: rng.uniform(0.05, 1.0) for name in names}
    metrics = {
        **values,
        **{f"val_{k}": v * rng.uniform(0.9, 1.2) for k, v in values.items()},
        **{f"test_{k}": v * rng.uniform(0.9, 1.2) for k, v in values.items()},
        **{f"baseline_test_{k}": v * 3 for k, v in values.items()},
        "baseline": "majority class" if classification else "training median",
        "epochs_run": epochs,
        "kept_epoch": max(1, epochs - 5),
        "stopped_early": rng.random() < 0.5,
        "train_time_s": round(rng.uniform(3, 300), 3),
        "median_samples_per_s": rng.uniform(1000, 20000),
        "param_count": rng.choice([669706, 531969, 4, 203530]),
    }
    if classification:
        metrics["test_macro_f1"] = rng.uniform(0.8, 0.99)
        metrics["per_class"] = {
            str(c): {
                "precision": rng.random(),
                "recall": rng.random(),
                "f1": rng.random(),
                "support": 100,
            }
            for c in range(10)
        }
    return metrics


def history_csv(rng: random.Random, names: list[str], epochs: int) -> str:
    columns = ["epoch", *names, *(f"val_{n}" for n in names), "epoch_time_s", "samples_per_s"]
    lines = [",".join(columns)]
    for epoch in range(1, epochs + 1):
        values = [rng.uniform(0.05, 1) for _ in range(2 * len(names))]
        lines.append(",".join([str(epoch), *map(str, values), "0.21", "9000.0"]))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def no_fsync():
    """Writing 10,000 run folders durably takes minutes of fsync here; the files are the same."""
    synced = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = synced


def make_runs(root: Path, count: int, seed: int = 0) -> None:
    """`count` run folders under `root`, written through `dlrun.runs.RunFolder`."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for index in range(count):
        classification = index % 2 == 0
        config = config_for(rng, index, classification)
        started = start + timedelta(minutes=7 * index)
        run_id = f"{index:06x}"
        folder = runs.RunFolder(root / f"{started:%Y%m%d-%H%M%S}-{config['name']}-{run_id}")
        folder.path.mkdir(parents=True)
        roll = rng.random()
        status = runs.COMPLETED
        if roll < 0.03:
            status = runs.FAILED
        elif roll < 0.05:
            status = runs.INTERRUPTED
        elif roll < 0.06:
            status = runs.RUNNING  # with a pid that is long gone: shown as crashed
        epochs = config["train"]["epochs"]
        folder.write_text(runs.CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))
        folder.write_json(
            runs.DATA_FILE,
            {"input_shape": [28, 28, 1] if classification else [11], "task": "classification"},
        )
        duration = rng.uniform(5, 400)
        folder.write_json(
            runs.RUN_FILE,
            {
                "schema_version": runs.SCHEMA_VERSION,
                "id": run_id,
                "status": status,
                "started_at": started.isoformat(timespec="seconds"),
                "ended_at": (started + timedelta(seconds=duration)).isoformat(timespec="seconds"),
                "pid": 2**22 + index,
                "name": config["name"],
                "command": ["dlrun", "train", "sweep.yaml", "--set", f"seed={config['seed']}"],
                "config_path": "/home/user/project/sweep.yaml",
                "seed": config["seed"],
                "model_type": config["model"]["type"],
                "data_source": config["data"]["source"],
                "data_sizes": {"train": 8000, "validation": 1000, "test": 1000},
                "data_fingerprint": "cd9ddafbee50a34c",
                "test_fingerprint": "524c1484260c7976",
                "device": "CPU: x86_64",
                "versions": {
                    "dlrun": "0.1.0",
                    "tensorflow": "2.21.0",
                    "keras": "3.15.1",
                    "python": "3.11.7",
                    "numpy": "2.4.6",
                },
                "git_commit": "bef6d57460a0afce547a31ee6629d18998959588",
                "duration_s": round(duration, 3),
                **({"error": "training failed: loss became NaN"} if status == runs.FAILED else {}),
                runs.CONFIG_MIRROR_KEY: config,  # as `RunFolder.start` writes it
            },
        )
        names = ["loss", "accuracy"] if classification else ["loss", "mae", "mse"]
        folder.write_text(runs.HISTORY_FILE, history_csv(rng, names, min(epochs, 20)))
        if status != runs.RUNNING:
            folder.write_metrics(metrics_for(rng, classification, epochs))


def user_environment() -> dict[str, str]:
    """The environment of a user's shell: Python caches compiled bytecode, as it does by default.

    Some hosts (this project's among them) set PYTHONDONTWRITEBYTECODE, which makes every start
    recompile every module and adds ~0.1 s that no installed copy of dlrun pays.
    """
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_command(args: list[str], repeats: int, warm: bool = True) -> list[tuple[float, float]]:
    """(wall-clock, CPU) seconds of `python -m dlrun ARGS` in fresh processes, after one
    untimed run (`warm`) that fills the bytecode and file caches."""
    timings = []
    for attempt in range(repeats + int(warm)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        begin = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "dlrun", *args],
            capture_output=True,
            text=True,
            env=user_environment(),
        )
        wall = time.perf_counter() - begin
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        if attempt > 0 or not warm:
            timings.append((wall, cpu))
        if result.returncode != 0:
            raise SystemExit(f"dlrun {' '.join(args)} failed:\n{result.stderr}")
    return timings


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds")
    parser.add_argument("--keep", type=Path, help="make (or reuse) the runs here")
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="skip the csv and json commands that print all 10,000 runs (most of the time)",
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        root = options.keep or Path(scratch) / "outputs"
        if not root.is_dir():
            begin = time.perf_counter()
            with no_fsync():
                make_runs(root, options.runs)
            took = time.perf_counter() - begin
            print(f"made {options.runs} run folders in {root} ({took:.1f} s)")
        print(
            f"machine: {os.cpu_count()} cores ({cpu_name()}), Python {sys.version.split()[0]}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        )
        for suffix in ("", "-wal", "-shm"):
            (root / f"{INDEX_FILE}{suffix}").unlink(missing_ok=True)
        [(wall, cpu)] = time_command(["runs", str(root)], 1, warm=False)
        print(f"dlrun runs DIR, building the index: {wall:.3f} s ({cpu:.3f} s CPU)")
        cases = [
            ["runs", str(root)],
            ["compare", str(root)],
            ["compare", str(root), "--filter", "model.type == 'mlp' or test_accuracy > 0.5"],
            ["compare", str(root), "--sort", "-test_loss"],
            ["compare", str(root), "--sort", "-test_loss", "--last", "50"],
            ["runs", str(root), "--format", "json"],
            ["compare", str(root), "--format", "csv"],
            ["--help"],
        ]
        if options.tables_only:
            cases = [args for args in cases if "--format" not in args]
        print(f"load average before: {load_average()}")
        timings: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(cases))}
        for round_ in range(options.repeats + 1):  # round 0 warms the caches, untimed
            for i, args in enumerate(cases):
                [timing] = time_command(args, 1, warm=False)
                if round_:
                    timings[i].append(timing)
        worst = 0.0
        for i, args in enumerate(cases):
            walls = [t[0] for t in timings[i]]
            wall, cpu = statistics.median(walls), statistics.median(t[1] for t in timings[i])
            if "--format" not in args and args[0] != "--help":
                worst = max(worst, wall)
            print(
                f"dlrun {' '.join(a if a != str(root) else 'DIR' for a in args):70s} "
                f"median {wall:.3f} s, {cpu:.3f} s CPU (wall min {min(walls):.3f},"
                f" max {max(walls):.3f})"
            )
        print(f"load average after: {load_average()}")
        print(
            f"slowest terminal-table command: median {worst:.3f} s wall over {options.runs} runs "
            f"({'under' if worst < 1 else 'OVER'} 1 s)"
        )


if __name__ == "__main__":
    main()
