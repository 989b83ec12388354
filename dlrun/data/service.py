"""`data.service: grpc://HOST:PORT`: the training examples read, shuffled and batched by
tf.data service workers (TensorFlow's distributed input engine) instead of the trainer.

The service's workers run a pipeline graph sent by the trainer, so the pipeline reads only what
they can reach: the disk cache's raw array files (`dlrun.data.cache`; the same path on every
machine, e.g. a shared `$DLRUN_CACHE_DIR`). The dispatcher hands out blocks of rows
(processing mode `distributed_epoch`): each training example is read once per epoch however
many workers serve, so an epoch means what it means without the service. Each epoch's blocks
come in an order drawn from (seed, epoch); each worker shuffles the blocks it gets (a small
buffer of blocks, then a buffer of examples, seeded by (seed, epoch)) and batches them.
Validation, test and augmentation stay in the trainer.

What the service gives up: with more than one service worker, which worker serves which block,
and when, decides the order, so it is not reproducible (with one worker it is) and
`train.deterministic: true` is refused; an epoch may end with one smaller batch per worker.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun.core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import tensorflow as tf

    from dlrun.data.base import Split

PROCESSING_MODE = "distributed_epoch"
BLOCK_ROWS = 1024
"""Rows per block the dispatcher hands out: small enough to balance workers and shuffle."""
BLOCK_BUFFER = 16
EXAMPLE_BUFFER = 10_000
TIMEOUT_ENV = "DLRUN_DATA_SERVICE_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
"""How long the first element may take to come back before training gives up."""
SERVE_FIX = (
    "start one: dlrun data serve --dispatcher --port PORT, and at least one worker: "
    "dlrun data serve --worker --dispatcher-address HOST:PORT --port PORT2"
)


def host_port(url: str) -> tuple[str, int]:
    """`grpc://HOST:PORT` (the schema checked the form) -> (HOST, PORT)."""
    host, port = url.removeprefix("grpc://").rsplit(":", 1)
    return host, int(port)


def wait_seconds() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ConfigError(
            f"{TIMEOUT_ENV} must be a number of seconds", received=text, source=TIMEOUT_ENV
        ) from None


def require_listening(address: str, what: str, source: str, timeout: float = 5.0) -> None:
    """A TCP connection to HOST:PORT, or a DataError naming it (TensorFlow's client would
    retry an unreachable address for a very long time)."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as error:
        raise DataError(
            f"cannot reach the tf.data service {what} at {address}: "
            f"{getattr(error, 'strerror', None) or error}",
            source=source,
            fix=f"check the address, or {SERVE_FIX}",
        ) from None


def require_serving(url: str) -> None:
    """One element of a tiny job served through `url` within `wait_seconds()`, or a
    DataError: a dispatcher without a live worker would make training wait forever."""
    import tensorflow as tf

    require_listening(url.removeprefix("grpc://"), "dispatcher", "data.service")
    timeout = wait_seconds()
    result: dict[str, object] = {}

    def probe() -> None:
        try:
            data = tf.data.Dataset.range(1).apply(
                tf.data.experimental.service.distribute("parallel_epochs", url)
            )
            result["values"] = [int(value) for value in data]
        except Exception as error:  # reported below, in the caller's thread
            result["error"] = error

    thread = threading.Thread(target=probe, name="data-service-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if "values" in result:
        return
    why = f"{type(result['error']).__name__}" if "error" in result else f"{timeout:g} s passed"
    raise DataError(
        f"the tf.data service at {url} served no data ({why}): is a worker running and "
        "registered with this dispatcher?",
        source="data.service",
        fix=f"{SERVE_FIX} (the wait is {TIMEOUT_ENV} seconds, default {DEFAULT_TIMEOUT_S:g})",
    )


def cached_file(array: object, what: str) -> Path:
    """The disk cache file a split's array is mapped from, or a ConfigError."""
    import numpy as np

    if not isinstance(array, np.memmap) or not array.filename or array.offset:
        raise ConfigError(
            f"data.service reads the training {what} from the disk cache, and this data is in "
            "memory",
            source="data.service",
            fix="set data.cache: disk (or auto) on a source that has a disk cache "
            "(data.source: csv), or remove data.service",
        )
    return Path(array.filename)


def train_dataset(
    split: Split, batch_size: int, seed: int, url: str, epochs: int, epoch: tf.Variable
) -> tf.data.Dataset:
    """The (x, y) training batches of epoch `epoch` (read as each iteration starts), made by
    the service's workers. One pipeline per epoch is registered with the dispatcher up front,
    its block order and shuffles drawn from (seed, epoch): a fresh order every epoch, and the
    same epoch the same pipeline after a resume (a graph on a service worker cannot read this
    process's epoch variable)."""
    import tensorflow as tf

    service = tf.data.experimental.service
    pipelines = [epoch_pipeline(split, batch_size, seed, e) for e in range(epochs)]
    ids = tf.stack([service.register_dataset(url, pipeline) for pipeline in pipelines])
    spec = pipelines[0].element_spec

    def served(_: tf.Tensor) -> tf.data.Dataset:
        return service.from_dataset_id(PROCESSING_MODE, url, tf.gather(ids, epoch), spec)

    return tf.data.Dataset.range(1).flat_map(served).prefetch(tf.data.AUTOTUNE)


def epoch_pipeline(split: Split, batch_size: int, seed: int, epoch: int) -> tf.data.Dataset:
    """What a service worker runs for one epoch: blocks of rows read from the cache files in
    an order drawn from (seed, epoch), shuffled, batched."""
    import numpy as np
    import tensorflow as tf

    x_file, y_file = cached_file(split.x, "examples"), cached_file(split.y, "labels")
    rows = len(split)
    x_shape, y_shape = split.x.shape[1:], split.y.shape[1:]
    x_bytes = int(np.prod(x_shape, dtype=np.int64)) * split.x.dtype.itemsize
    y_bytes = int(np.prod(y_shape, dtype=np.int64)) * split.y.dtype.itemsize
    x_type, y_type = tf.as_dtype(split.x.dtype), tf.as_dtype(split.y.dtype)
    blocks = -(-rows // BLOCK_ROWS)
    order = np.random.default_rng([seed, epoch]).permutation(blocks).astype(np.int64)

    def read(path: Path, start: tf.Tensor, count: tf.Tensor, width: int, dtype, shape):
        # One record of the block's rows: the rows before and after it are header and footer.
        record = tf.data.FixedLengthRecordDataset(
            str(path),
            record_bytes=count * width,
            header_bytes=start * width,
            footer_bytes=(rows - start - count) * width,
        )
        return record.map(lambda raw: tf.reshape(tf.io.decode_raw(raw, dtype), [-1, *shape]))

    def block(index: tf.Tensor) -> tf.data.Dataset:
        start = index * BLOCK_ROWS
        count = tf.minimum(tf.constant(BLOCK_ROWS, tf.int64), rows - start)
        x = read(x_file, start, count, x_bytes, x_type, x_shape)
        y = read(y_file, start, count, y_bytes, y_type, y_shape)
        return tf.data.Dataset.zip((x, y)).unbatch()

    shuffle_seed = int(np.random.default_rng([seed, epoch]).integers(2**31))
    return (
        tf.data.Dataset.from_tensor_slices(order)  # splittable: the dispatcher hands out blocks
        .shuffle(BLOCK_BUFFER, seed=shuffle_seed)
        .flat_map(block)
        .shuffle(min(rows, EXAMPLE_BUFFER), seed=shuffle_seed + 1)
        .batch(batch_size)
    )


def check_settings(deterministic: bool, multi_worker: bool) -> None:
    """What the service cannot do, refused before anything is trained."""
    if deterministic:
        raise ConfigError(
            "data.service cannot give train.deterministic: true: the order of an epoch depends "
            "on which service worker serves which block, and when",
            source="data.service",
            fix="remove data.service, or set train.deterministic: false",
        )
    if multi_worker:
        raise ConfigError(
            "data.service is not supported with train.distribute: multi_worker yet",
            source="data.service",
            fix="remove data.service (each worker then reads its own shards of a glob)",
        )


def start_server(
    role: str, port: int, dispatcher_address: str | None = None, worker_address: str = "localhost"
) -> tuple[object, str]:
    """A tf.data service dispatcher or worker listening on `port` (0: any free port), and the
    address it serves at. A worker registers with `dispatcher_address` and tells clients to
    reach it at `worker_address`:PORT."""
    import tensorflow as tf

    service = tf.data.experimental.service
    if role == "worker":
        assert dispatcher_address is not None
        require_listening(dispatcher_address, "dispatcher", "--dispatcher-address")
    try:
        if role == "dispatcher":
            server = service.DispatchServer(service.DispatcherConfig(port=port))
            return server, server.target
        config = service.WorkerConfig(
            dispatcher_address=dispatcher_address,
            worker_address=f"{worker_address}:%port%",
            port=port,
        )
        worker = service.WorkerServer(config)
        return worker, f"grpc://{worker_address}:{worker._address.rsplit(':', 1)[1]}"
    except tf.errors.OpError as error:
        raise DataError(
            f"cannot start the tf.data service {role} on port {port}: {error.message}",
            source="--port",
            fix="choose a free port (another process may listen on this one)",
        ) from None
