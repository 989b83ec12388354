"""Loading a saved `model.keras`: the one way dlrun reads a model back.

A `.keras` file can carry Python code (a `Lambda` layer's function, marshalled bytecode). Keras's
`safe_mode=True` refuses to deserialise it, and dlrun always passes it. No command lifts it;
Python callers can, explicitly, with `allow_unsafe_deserialization=True` for files they trust
(a command that ever offers this must call its flag `--allow-unsafe-deserialization`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun.core.errors import DataError

if TYPE_CHECKING:
    import keras


def load_saved_model(
    path: Path, *, compile: bool = True, allow_unsafe_deserialization: bool = False
) -> keras.Model:
    """The model in a `.keras` file; a `DataError` for a file that is missing, unreadable or
    holds Python code (unless the caller passes `allow_unsafe_deserialization=True`)."""
    import keras

    import dlrun.models.layers  # noqa: F401  (registers dlrun's own layers for deserialisation)

    if not Path(path).is_file():
        raise DataError("model file not found", received=str(path), fix="check the path")
    try:
        return keras.saving.load_model(
            path, compile=compile, safe_mode=not allow_unsafe_deserialization
        )
    except (ValueError, OSError, zipfile.BadZipFile) as error:
        if "arbitrary code execution" in str(error):
            raise DataError(
                f"{path} holds Python code (a Lambda layer or function), which dlrun does not "
                "run from a model file",
                fix="rebuild the model without Lambda layers; if you trust the file, load it in "
                "Python with load_saved_model(path, allow_unsafe_deserialization=True)",
            ) from None
        raise DataError(f"cannot load the model {path}: {str(error).splitlines()[0]}") from None
