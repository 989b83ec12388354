"""`train.distribute` -> a `tf.distribute` strategy, made before anything else touches TensorFlow.

`MultiWorkerMirroredStrategy` starts this process's gRPC server and joins the cluster that
`TF_CONFIG` describes (it waits there until every worker is up), and TensorFlow allows that
only before its runtime has run an op: so the strategy is made right after the device and seed
settings, before any data is loaded.

Batch size: `train.batch_size` is the global batch, the examples of one optimizer step over all
replicas; each replica trains on batch_size / replicas. A config then means the same training
(steps per epoch, learning rate per example) on one device or many.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from dlrun.config.schema import DistributeConfig, ReportConfig, TrainConfig
from dlrun.core.errors import ConfigError
from dlrun.training.cluster import Cluster, cluster_from_environment

COMMUNICATION = {
    "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
    "ring": tf.distribute.experimental.CommunicationImplementation.RING,
    "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
}


@dataclass(frozen=True)
class Distribution:
    setting: DistributeConfig
    strategy: tf.distribute.Strategy | None
    """None: no strategy, Keras's default single device."""
    cluster: Cluster | None = None
    """multi_worker: the job's tasks (None: a job of one worker, no TF_CONFIG)."""

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync if self.strategy else 1

    @property
    def workers(self) -> int:
        return self.cluster.size if self.cluster else 1

    @property
    def is_chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    @property
    def multi_worker(self) -> bool:
        """Trained by dlrun's own loop (`dlrun.training.distributed`): Keras 3's `fit` fails
        under MultiWorkerMirroredStrategy (keras-team/keras#20585)."""
        return self.setting.strategy == "multi_worker"

    def scope(self) -> AbstractContextManager[Any]:
        """Where the model, its optimizer and metrics must be made (their variables mirrored)."""
        return self.strategy.scope() if self.strategy else nullcontext()

    def check(self, train: TrainConfig, report: ReportConfig) -> None:
        """Settings that cannot work with this many replicas, before anything is trained."""
        if train.batch_size % self.replicas:
            raise ConfigError(
                f"train.batch_size {train.batch_size} does not split evenly over "
                f"{self.replicas} replicas",
                source="train.batch_size",
                expected=f"a multiple of {self.replicas} (it is the global batch)",
                fix=f"set train.batch_size to a multiple of {self.replicas}, e.g. "
                f"{self.replicas * max(1, train.batch_size // self.replicas)}",
            )
        steps = train.steps_per_execution
        if self.setting.strategy == "mirrored" and steps not in ("auto", 1):
            raise ConfigError(
                "train.steps_per_execution above 1 fails in Keras 3 under MirroredStrategy "
                "(keras-team/keras#19246)",
                received=steps,
                source="train.steps_per_execution",
                fix="set train.steps_per_execution: auto (1 under mirrored)",
            )
        if self.multi_worker and report.tensorboard:
            raise ConfigError(
                "report.tensorboard is not supported with multi_worker (dlrun's own training "
                "loop does not feed Keras's TensorBoard callback)",
                source="report.tensorboard",
                fix="set report.tensorboard: false",
            )
        if self.multi_worker and train.jit_compile is True:
            raise ConfigError(
                "train.jit_compile: true is not supported with multi_worker",
                source="train.jit_compile",
                fix="set train.jit_compile: auto",
            )

    def describe(self, batch_size: int) -> dict[str, Any]:
        """What run.json records under `distribute`."""
        return {
            "strategy": self.setting.strategy,
            "replicas": self.replicas,
            "workers": self.workers,
            "global_batch_size": batch_size,
            "per_replica_batch_size": batch_size // self.replicas,
            **({"communication": self.setting.communication} if self.multi_worker else {}),
            **({"cluster": self.cluster.tasks} if self.cluster else {}),
        }


@contextmanager
def python_keeps_signals() -> Iterator[None]:
    """Python's SIGTERM and SIGINT handlers, put back after the block: joining a cluster starts
    TensorFlow's preemption notifier, which takes SIGTERM over and swallows it, so a worker
    would ignore `kill` and its supervisor's forwarded Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)


def mirrored_devices() -> list[str]:
    """Every GPU, else every logical CPU device (one, unless the process split its CPU)."""
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in gpus or tf.config.list_logical_devices("CPU")]


def start(setting: DistributeConfig) -> Distribution:
    """The strategy `train.distribute` asks for, made now (see the module's docstring)."""
    if setting.strategy == "mirrored":
        return Distribution(setting, tf.distribute.MirroredStrategy(mirrored_devices()))
    if setting.strategy == "multi_worker":
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=COMMUNICATION[setting.communication]
        )
        with python_keeps_signals():
            strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        return Distribution(setting, strategy, cluster_from_environment())
    return Distribution(setting, None)
