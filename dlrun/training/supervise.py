"""Keeping one worker of a multi-worker job going when a peer fails.

When a peer dies, TensorFlow aborts the collective ops of every other worker
(`UnavailableError`: its address refuses connections, or the coordination service misses its
heartbeats), and a process cannot join a new cluster once its runtime has aborted. So
`dlrun train --workers ...` is a small supervisor (no TensorFlow) that runs the training in a
child process and starts a fresh one when the child reports a peer failure (exit code
`PEER_FAILED`): the new child waits at start-up until every peer is back, and all resume from
their last backups. Restarting only the worker that died is then enough to finish the job.

Other exits are final: success, a bad config, a failed run, Ctrl-C or SIGTERM (forwarded to the
child, which marks the run interrupted). The child dies with the supervisor (Linux
`PR_SET_PDEATHSIG`), so killing the supervisor leaves no orphan holding the worker's port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

SUPERVISED_ENV = "DLRUN_SUPERVISED"
"""Set in the child's environment: it trains instead of supervising."""

PEER_FAILED = 75
"""The child's exit code when a peer failed (EX_TEMPFAIL: try again)."""

RESTART_DELAY_S = 2.0
"""A pause before restarting, so the failed peer's port and connections are gone."""


def supervised() -> bool:
    return os.environ.get(SUPERVISED_ENV) == "1"


def _prepare_child() -> None:  # pragma: no cover - runs in the child before exec
    # A supervisor started in the background by a shell ignores SIGINT, and the child would
    # inherit that: let Python install its Ctrl-C handler, so a forwarded SIGINT stops it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when the supervisor dies
    except OSError:  # not Linux: the child outlives a killed supervisor
        pass


def exit_status(returncode: int) -> int:
    """A child's return code as a shell exit status (a signal N is 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


def supervise(
    arguments: Sequence[str],
    max_restarts: int,
    on_restart: Callable[[int, int], None],
) -> int:
    """Run `python -m dlrun ARGUMENTS` until it ends for good; its exit status.

    `on_restart(attempt, max_restarts)` is told before each restart."""
    command = [sys.executable, "-m", "dlrun", *arguments]
    environment = {**os.environ, SUPERVISED_ENV: "1"}
    attempt = 0
    while True:
        child = subprocess.Popen(
            command,
            env=environment,
            # Its own session: a Ctrl-C in the terminal reaches the supervisor only, which
            # passes it on once (twice would cut the child's clean-up short).
            start_new_session=True,
            preexec_fn=_prepare_child if os.name == "posix" else None,
        )
        returncode = _wait_forwarding_signals(child)
        if returncode != PEER_FAILED or attempt >= max_restarts:
            return exit_status(returncode)
        attempt += 1
        on_restart(attempt, max_restarts)
        time.sleep(RESTART_DELAY_S)


def _wait_forwarding_signals(child: subprocess.Popen) -> int:
    """Wait for the child, passing SIGINT and SIGTERM on to it: it ends the run cleanly, and
    its exit code is ours."""

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, forward),
        signal.SIGINT: signal.signal(signal.SIGINT, forward),
    }
    try:
        while True:
            try:
                return child.wait()
            except InterruptedError:  # pragma: no cover - wait() retries on EINTR itself
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
