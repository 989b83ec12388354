"""Training throughput of `train.distribute` on this machine: one process, one process with the
multi-worker loop, and a 2-worker job on 127.0.0.1 (README, Distributed training).

    DLRUN_DATA_DIR=../shared/data python benchmarks/distributed_speed.py

Each case trains configs/fashion_mnist_mlp.yaml on 20,000 examples for 3 epochs at a global
batch of 128 and reports `median_samples_per_s` (all workers together; the first epoch, which
traces, is left out). Two runs per case; about 3 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "fashion_mnist_mlp.yaml"
SETTINGS = ["data.limit=20000", "train.epochs=3", "train.batch_size=128", "report.plots=false"]


def dlrun(*arguments: str, output: Path) -> subprocess.Popen:
    overrides = [part for setting in SETTINGS for part in ("--set", setting)]
    return subprocess.Popen(
        [sys.executable, "-m", "dlrun", "train", str(CONFIG), "--json", *overrides, *arguments],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "DLRUN_OUTPUT_DIR": str(output)},
    )


def speed(process: subprocess.Popen) -> float:
    stdout, _ = process.communicate()
    assert process.returncode == 0
    return json.loads(stdout.splitlines()[-1])["metrics"]["median_samples_per_s"]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def one_case(name: str, output: Path) -> float:
    if name == "two workers":
        workers = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
        flags = ["--set", "train.distribute=multi_worker", "--workers", workers]
        chief, other = (dlrun(*flags, "--worker-index", str(i), output=output) for i in (0, 1))
        result = speed(chief)
        other.communicate()
        return result
    extra = ["--set", "train.distribute=multi_worker"] if name == "one worker, own loop" else []
    return speed(dlrun(*extra, output=output))


def main() -> None:
    cases = ["one process (fit)", "one worker, own loop", "two workers"]
    with tempfile.TemporaryDirectory() as folder:
        for name in cases:
            speeds = [one_case(name, Path(folder) / f"{name}-{i}") for i in range(2)]
            print(f"{name:24} {median(speeds):10,.0f} samples/s  {speeds}", flush=True)


if __name__ == "__main__":
    main()
