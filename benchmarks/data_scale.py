"""Data of any size: peak memory and speed of dlrun on large CSV files, against a hand-written
streaming tf.data script doing the same work (one linear layer, batch 1024).

    python benchmarks/data_scale.py                        # 1M rows
    python benchmarks/data_scale.py --rows 1000000 10000000 --repeats 2
    python benchmarks/data_scale.py --rows --images 10000 200000   # image folders only
    python benchmarks/data_scale.py --rows --images 10000 200000 --keep /tmp/scale \
        --set train.jit_compile=true --set train.steps_per_execution=32

`--keep DIR` writes the generated files there and reuses them on the next run (200,000 PNGs
take about 6 minutes to write); `--set KEY=VALUE` passes overrides to every dlrun run, e.g. to
train every size with the same settings (`jit_compile` and `steps_per_execution` are `auto`,
and `auto` picks XLA for longer trainings, which costs memory of its own).

The CSV (20 numeric columns and a regression target) is generated in a temporary folder, never
committed. For each size the runs alternate, each in a fresh process whose peak RSS is read by
a wrapper (`ru_maxrss` of its only child):

- `dlrun train --set data.cache=disk`: the first run parses the CSV in chunks and writes the
  disk cache; its epochs then read the memory-mapped arrays;
- the same again: the cache is there, so nothing is parsed (what every later run costs);
- `dlrun train --set data.cache=memory`: the in-memory path;
- the hand-written script: `tf.data.experimental.CsvDataset` streaming the file, batch, fit.

`--images N ...` does the same on folders of N PNG files at 64x64 RGB in 10 class folders
(`image_dir`, batch 256, the same one-layer model); the hand-written script streams them with
`keras.utils.image_dataset_from_directory`.

Printed: peak RSS (MiB), wall seconds, and the epochs' median samples/s (dlrun's history.csv;
the script's own timing). Figures, date and machine go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

COLUMNS = 20
BATCH = 1024
IMAGE_BATCH = 256

HANDWRITTEN = textwrap.dedent(
    """
    import sys, time, json
    import tensorflow as tf, keras
    path, epochs = sys.argv[1], int(sys.argv[2])
    columns = 20
    data = tf.data.experimental.CsvDataset(
        path, [tf.float32] * (columns + 1), header=True, buffer_size=1 << 22
    )
    def pack(*fields):
        return tf.stack(fields[:-1], axis=-1), fields[-1]
    train = data.batch(1024).map(pack, num_parallel_calls=tf.data.AUTOTUNE)
    train = train.prefetch(tf.data.AUTOTUNE)
    model = keras.Sequential([keras.Input((columns,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    speeds = []
    rows = None
    for epoch in range(epochs):
        started = time.perf_counter()
        model.fit(train, epochs=1, verbose=0)
        seconds = time.perf_counter() - started
        if rows is None:
            rows = sum(1 for _ in open(path)) - 1
        speeds.append(rows / seconds)
    print(json.dumps({"samples_per_s": speeds}))
    """
)

HANDWRITTEN_IMAGES = textwrap.dedent(
    """
    import sys, time, json
    import tensorflow as tf, keras
    folder, epochs = sys.argv[1], int(sys.argv[2])
    train = keras.utils.image_dataset_from_directory(
        folder, image_size=(64, 64), batch_size=256, seed=0
    )
    count = len(train.file_paths)
    train = train.map(lambda x, y: (x / 255.0, y)).prefetch(tf.data.AUTOTUNE)
    model = keras.Sequential(
        [keras.Input((64, 64, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    speeds = []
    for epoch in range(epochs):
        started = time.perf_counter()
        model.fit(train, epochs=1, verbose=0)
        speeds.append(count / (time.perf_counter() - started))
    print(json.dumps({"samples_per_s": speeds}))
    """
)

WRAPPER = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    started = time.perf_counter()
    result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    print(json.dumps({
        "rc": result.returncode,
        "seconds": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "stdout": result.stdout[-4000:],
        "stderr": result.stderr[-2000:],
    }))
    """
)


def write_csv(path: Path, rows: int, seed: int = 0) -> None:
    """y = x @ w + noise, written in blocks so generating stays in bounded memory."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=COLUMNS)
    header = ",".join([*(f"x{i}" for i in range(COLUMNS)), "y"])
    with path.open("w") as handle:
        handle.write(header + "\n")
        for start in range(0, rows, 500_000):
            n = min(500_000, rows - start)
            x = rng.normal(size=(n, COLUMNS)).astype(np.float32)
            y = x @ weights + rng.normal(scale=0.1, size=n)
            np.savetxt(handle, np.column_stack([x, y]), fmt="%.5g", delimiter=",")


def write_images(folder: Path, count: int, seed: int = 0) -> None:
    """`count` PNGs at 64x64 RGB in 10 class folders: smooth gradients whose brightness and
    tint depend on the class, plus noise (so they compress like photos, not like noise)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, 64, dtype=np.float32)
    for index in range(count):
        label = index % 10
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
        base = 40 + 18 * label + 60 * np.add.outer(ramp, ramp * rng.uniform(0.2, 1))
        pixels = base[..., None] * [1.0, 0.6 + 0.04 * label, 0.9]
        pixels += rng.normal(scale=4, size=(64, 64, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        image.save(folder / f"class{label}" / f"{index:07d}.png", compress_level=1)


def config_file(folder: Path, name: str, data: str, batch: int, epochs: int) -> Path:
    """A config training the one-layer model on `data` (a YAML flow mapping, without its
    braces), no validation split, nothing but the metrics written."""
    path = folder / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: {name}
            data: {{{data}, test_split: 0.05, validation_split: 0}}
            model: {{type: mlp, units: []}}
            train: {{epochs: {epochs}, batch_size: {batch}, early_stopping: null}}
            report: {{plots: false, save_model: false}}
            """
        )
    )
    return path


def measured(command: list[str], env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, env=env
    )
    return json.loads(result.stdout)


def dlrun_run(
    config: Path, cache: str, outputs: Path, env: dict[str, str], overrides: list[str]
) -> dict:
    command = [sys.executable, "-m", "dlrun", "train", str(config), "--json", "-q"]
    command += ["-o", str(outputs), "--set", f"data.cache={cache}"]
    command += [f"--set={override}" for override in overrides]
    record = measured(command, env)
    if record["rc"] == 0:
        run_dir = Path(json.loads(record["stdout"].strip().splitlines()[-1])["run_dir"])
        history = (run_dir / "history.csv").read_text().splitlines()
        column = history[0].split(",").index("samples_per_s")
        record["samples_per_s"] = [float(line.split(",")[column]) for line in history[1:]]
    return record


def handwritten_run(
    csv: Path, epochs: int, folder: Path, env: dict[str, str], source: str = HANDWRITTEN
) -> dict:
    script = folder / "handwritten.py"
    script.write_text(source)
    record = measured([sys.executable, str(script), str(csv), str(epochs)], env)
    if record["rc"] == 0:
        record["samples_per_s"] = json.loads(record["stdout"].strip().splitlines()[-1])[
            "samples_per_s"
        ]
    return record


def summary(name: str, records: list[dict]) -> str:
    ok = [r for r in records if r["rc"] == 0]
    if not ok:
        return f"{name:<28} FAILED: {records[0]['stderr'][-300:]}"
    rss = max(r["peak_rss_mib"] for r in ok)
    seconds = statistics.median(r["seconds"] for r in ok)
    speeds = [s for r in ok for s in r.get("samples_per_s", [])]
    speed = f"{statistics.median(speeds):>12,.0f}" if speeds else " " * 12
    return f"{name:<28} peak RSS {rss:>8,.0f} MiB  wall {seconds:>7.1f} s  samples/s {speed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--images", type=int, nargs="*", default=[])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["disk", "cached", "memory", "handwritten"],
        choices=["disk", "cached", "memory", "handwritten"],
        help="which of the four runs to make (default: all)",
    )
    parser.add_argument("--keep", type=Path, help="write the generated data here, and reuse it")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores; --set {args.overrides}")
    with tempfile.TemporaryDirectory(prefix="dlrun-scale-") as tmp:
        folder = Path(tmp)
        data_folder = args.keep or folder
        data_folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DLRUN_CACHE_DIR": str(folder / "cache"), "TF_CPP_MIN_LOG_LEVEL": "3"}
        for rows in args.rows:
            csv = data_folder / f"rows-{rows}.csv"
            started = time.perf_counter()
            if not csv.exists():
                write_csv(csv.with_suffix(".partial"), rows)
                csv.with_suffix(".partial").rename(csv)
            size = csv.stat().st_size / 2**20
            print(
                f"\n{rows:,} rows, {size:,.0f} MiB of CSV (written in "
                f"{time.perf_counter() - started:.0f} s); {args.epochs} epochs"
            )
            data = f"source: csv, path: {csv}, target: y"
            config = config_file(folder, "data_scale", data, BATCH, args.epochs)
            alternate(args, config, csv, folder, env, HANDWRITTEN)
            if not args.keep:
                csv.unlink()
        for count in args.images:
            images = data_folder / f"images-{count}"
            started = time.perf_counter()
            if not images.exists():
                write_images(images / "partial", count)
                (images / "partial").rename(images / "classes")  # whole, or written again
            images = images / "classes"
            print(
                f"\n{count:,} PNGs at 64x64 RGB (written in "
                f"{time.perf_counter() - started:.0f} s); {args.epochs} epochs"
            )
            data = f"source: image_dir, path: {images}, image_size: [64, 64]"
            config = config_file(folder, "image_scale", data, IMAGE_BATCH, args.epochs)
            alternate(args, config, images, folder, env, HANDWRITTEN_IMAGES)
            if not args.keep:
                subprocess.run(["rm", "-rf", str(images.parent)], check=True)


def alternate(
    args: argparse.Namespace,
    config: Path,
    data: Path,
    folder: Path,
    env: dict[str, str],
    handwritten: str,
) -> None:
    """The four runs, `--repeats` times in turn; then their summaries."""
    results: dict[str, list[dict]] = {}
    outputs, sets = folder / "outputs", args.overrides
    runs = [
        ("disk", "dlrun cache=disk (first)", dlrun_run, (config, "disk", outputs, env, sets)),
        ("cached", "dlrun cache=disk (cached)", dlrun_run, (config, "disk", outputs, env, sets)),
        ("memory", "dlrun cache=memory", dlrun_run, (config, "memory", outputs, env, sets)),
        (
            "handwritten",
            "hand-written tf.data",
            handwritten_run,
            (data, args.epochs, folder, env, handwritten),
        ),
    ]
    for _ in range(args.repeats):
        for entry in (folder / "cache").glob("*"):  # every repeat parses again
            subprocess.run(["rm", "-rf", str(entry)], check=True)
        for key, name, run, arguments in runs:
            if key in args.runs:
                results.setdefault(name, []).append(run(*arguments))
    for name, records in results.items():
        print(summary(name, records))


if __name__ == "__main__":
    main()
