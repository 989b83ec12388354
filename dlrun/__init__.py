"""dlrun: train Keras models from a YAML config.

The Python API, for notebooks and scripts (documented in `dlrun.api`):

    import dlrun
    run = dlrun.train("configs/wine_quality.yaml", overrides=["train.epochs=5"])
    run.path, run.metrics["test_mae"]

`load_config`, `train`, `load_run`, `evaluate` and `predict` are imported on first use, so
`import dlrun` stays light: TensorFlow loads only when something trains or runs a model.
"""

from typing import Any

__version__ = "0.1.0"

_API = ("load_config", "train", "load_run", "evaluate", "predict")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        from dlrun import api

        return getattr(api, name)
    raise AttributeError(f"module 'dlrun' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
