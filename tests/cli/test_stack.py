"""What the training commands set up for their process before TensorFlow starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Starts twice as many threads as cores (plus 4), each allocating, then prints glibc's arenas
# (malloc_stats() writes one "Arena N:" block per arena to stderr).
THREADS_THEN_ARENAS = """
import ctypes, os, sys, threading
from dlrun.cli.stack import malloc_arenas_limited
if sys.argv[1] == "limited":
    malloc_arenas_limited()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
count = 2 * len(os.sched_getaffinity(0)) + 4
started, done = threading.Barrier(count + 1), threading.Event()
def hold():
    libc.malloc(4096)
    started.wait()
    done.wait()
threads = [threading.Thread(target=hold) for _ in range(count)]
for thread in threads:
    thread.start()
started.wait()
libc.malloc_stats()
done.set()
"""


def arenas(mode: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    result = subprocess.run(
        [sys.executable, "-c", THREADS_THEN_ARENAS, mode],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return sum(line.startswith("Arena ") for line in result.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc arenas")
def test_training_processes_keep_one_malloc_arena_per_core():
    cores = len(os.sched_getaffinity(0))
    assert arenas("default") > cores  # glibc alone gives threads more (so this test can fail)
    assert arenas("limited") <= cores
