"""Keras's own name lookups (optimizers, losses, metrics, activations, layers) with dlrun's errors.

dlrun never keeps its own list of these: a name is whatever Keras accepts, and an unknown one
is reported with the names Keras knows and the closest match. Imports Keras, so import this
module only where training or building happens.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras

from dlrun.core.errors import ConfigError, unknown_name_error

# Short names people type that Keras spells out in full.
METRIC_ALIASES = {"rmse": "root_mean_squared_error"}


def _public_names(module: Any, base: type | None = None) -> list[str]:
    names = []
    for attr in dir(module):
        value = getattr(module, attr)
        if attr.startswith("_"):
            continue
        if base is not None and isinstance(value, type) and issubclass(value, base):
            names.append(attr.lower())
        elif base is None and inspect.isfunction(value) and attr.islower():
            names.append(attr)
    return sorted(set(names))


def _lookup(getter: Callable[[Any], Any], name: str, kind: str, key: str, known: list[str]) -> Any:
    try:
        return getter(name)
    except (ValueError, TypeError):
        raise unknown_name_error(kind, name, known, source=key) from None


def optimizer_class(name: str, key: str = "train.optimizer.name") -> type:
    known = _public_names(keras.optimizers, keras.optimizers.Optimizer)
    known = [n for n in known if n not in {"optimizer", "lossscaleoptimizer", "multioptimizer"}]
    return type(_lookup(keras.optimizers.get, name, "optimizer", key, known))


def loss(name: str, key: str = "train.loss") -> Any:
    return _lookup(keras.losses.get, name, "loss", key, _public_names(keras.losses))


def metric(name: str, key: str) -> Any:
    """What to give `compile` for a metric name, logged under that same name.

    'accuracy' stays a string: compile picks the right kind (sparse, binary, ...) for the loss.
    """
    if name in {"accuracy", "acc"}:
        return name
    known = sorted({*_public_names(keras.metrics), *METRIC_ALIASES})
    found = _lookup(keras.metrics.get, METRIC_ALIASES.get(name, name), "metric", key, known)
    if isinstance(found, keras.metrics.Metric):
        return type(found)(name=name)
    return name


def activation(name: str, key: str) -> Any:
    return _lookup(keras.activations.get, name, "activation", key, _public_names(keras.activations))


# Layers that would run code a config does not show: a Python function, or a SavedModel's graph
# read from disk (its ops can read and write files).
REFUSED_LAYERS = {
    "Lambda": "it runs a Python function",
    "TFSMLayer": "it runs a SavedModel's TensorFlow graph from a file",
}


def layer_class(name: str, key: str) -> type:
    if name in REFUSED_LAYERS:
        raise ConfigError(
            f"the Keras layer {name} is not allowed in a config: {REFUSED_LAYERS[name]}",
            source=key,
            fix="use built-in layers, or register a model type in Python "
            "(docs/development.md: Adding a model or a data source)",
        )
    value = getattr(keras.layers, name, None)
    if isinstance(value, type) and issubclass(value, keras.layers.Layer):
        return value
    known = [n for n in dir(keras.layers) if n[:1].isupper()]
    raise unknown_name_error("Keras layer", name, known, source=key)


def instantiate(cls: type, kwargs: dict[str, Any], key: str) -> Any:
    """`cls(**kwargs)`, with a bad or misspelt argument reported against the config key."""
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:
        accepted = [
            p for p in inspect.signature(cls.__init__).parameters if p not in {"self", "kwargs"}
        ]
        raise ConfigError(
            f"invalid arguments for {cls.__name__}: {error}",
            received=kwargs,
            expected=f"arguments of keras {cls.__name__}: {', '.join(accepted)}",
            source=key,
        ) from None
