"""Integer class labels as one-hot rows in a tf.data pipeline: what a one-hot loss
(`categorical_crossentropy`, ...) reads, and what the tutorials' `to_categorical` gave it.
Training (`dlrun.experiment.loss_fit`) and `dlrun evaluate` apply the same map."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

ONE_HOT_NOTE = "one-hot (for the loss)"
"""`DataSpec.preprocessing['labels']` of a run whose pipelines one-hot encode the labels."""


def one_hot_labels(data: tf.data.Dataset | None, classes: int) -> tf.data.Dataset | None:
    """The pipeline's integer labels as one-hot rows of `classes` values."""
    import tensorflow as tf

    if data is None:
        return None
    return data.map(
        lambda x, y: (x, tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
