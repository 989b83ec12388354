"""Config step: YAML + overrides -> a validated, fully resolved `ExperimentConfig`."""

from dlrun.config.loader import load_config, resolved_dict, to_yaml
from dlrun.config.schema import ExperimentConfig, TrainConfig

__all__ = ["ExperimentConfig", "TrainConfig", "load_config", "resolved_dict", "to_yaml"]
