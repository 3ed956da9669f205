"""Training: typed YAML recipes and the resumable engine behind ``laanet-train``."""

from .config import (
    ConfigError,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    ScheduleConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_config,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "ScheduleConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]
