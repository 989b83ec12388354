"""Building blocks shared by every section of the config schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo


class Params(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too, and no
    number may be infinite or NaN (`.inf` would pass `gt=0` and only fail mid-training)."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False
    )


def _resolve_against_config_dir(path: Path, info: ValidationInfo) -> Path:
    # Paths in a config are relative to the config file, not to the shell's working directory.
    base_dir = (info.context or {}).get("base_dir")
    path = path.expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return Path(str(path.absolute()))


ConfigPath = Annotated[Path, AfterValidator(_resolve_against_config_dir)]
"""A file path in a config, resolved against the folder of the config file."""
