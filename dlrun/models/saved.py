"""Loading a saved `model.keras`: the one way dlrun reads a model back.

A `.keras` file can carry Python code (a `Lambda` layer's function, marshalled bytecode). Keras's
`safe_mode=True` refuses to deserialise it, and dlrun always passes it. No command lifts it;
Python callers can, explicitly, with `allow_unsafe_deserialization=True` for files they trust
(a command that ever offers this must call its flag `--allow-unsafe-deserialization`).

Before Keras sees the file, its `config.json` is read here and refused when it names an object
outside Keras and dlrun (`os.system`, `builtins.exec`) or a lookup layer whose vocabulary is a
file path (the layer would read that file). Whatever else goes wrong while deserialising (a
`TypeError`, `KeyError`, `AttributeError` from a crafted config) is a `DataError` naming the
file: a model file is input, and bad input is exit 2, never a traceback.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlrun.core.errors import DataError, DlrunError

if TYPE_CHECKING:
    import keras

_TRUSTED_MODULES = ("keras", "dlrun", "keras_hub")
"""The packages a model file's `module` entries may name (Keras's own and dlrun's layers, and
KerasHub's backbones and tokenizers, which `pretrained_text` models hold)."""

_FILE_VOCABULARY_LAYERS = ("StringLookup", "IntegerLookup", "TextVectorization")
_MAX_CONFIG_BYTES = 64 * 2**20


def load_saved_model(
    path: Path, *, compile: bool = True, allow_unsafe_deserialization: bool = False
) -> keras.Model:
    """The model in a `.keras` file; a `DataError` naming the file when it is missing, not a
    Keras model file, damaged, or holds Python code (unless the caller passes
    `allow_unsafe_deserialization=True`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("model file not found", received=str(path), fix="check the path")
    if not allow_unsafe_deserialization:
        check_model_file(path)
    import keras

    import dlrun.models.layers  # noqa: F401  (registers dlrun's own layers for deserialisation)

    try:
        return keras.saving.load_model(
            path, compile=compile, safe_mode=not allow_unsafe_deserialization
        )
    except DlrunError:
        raise
    except Exception as error:
        if "arbitrary code execution" in str(error):
            raise DataError(
                f"{path} holds Python code (a Lambda layer or function), which dlrun does not "
                "run from a model file",
                fix="rebuild the model without Lambda layers; if you trust the file, load it in "
                "Python with load_saved_model(path, allow_unsafe_deserialization=True)",
            ) from None
        first = (str(error).splitlines() or [""])[0][:300]
        raise DataError(
            f"cannot load the model {path}: {type(error).__name__}"
            + (f": {first}" if first else ""),
            expected="a model.keras file saved by dlrun train (Keras 3)",
            fix="train the run again, or restore the file from a copy",
        ) from None


def check_model_file(path: Path) -> None:
    """Refuse a file that is not a Keras archive, or whose `config.json` names objects from
    outside Keras and dlrun or makes a layer read a file; nothing is imported or run."""
    not_keras = f"{path} is not a Keras model file"
    fix = "pass the model.keras a dlrun run saved"
    try:
        if not zipfile.is_zipfile(path):
            raise DataError(f"{not_keras} (not a zip archive)", fix=fix)
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > _MAX_CONFIG_BYTES:
                raise DataError(f"{not_keras} (config.json is {info.file_size:,} bytes)", fix=fix)
            config = json.loads(archive.read(info).decode("utf-8"))
    except DlrunError:
        raise
    except KeyError:
        raise DataError(f"{not_keras} (the archive has no config.json)", fix=fix) from None
    except (OSError, ValueError, RecursionError, zipfile.BadZipFile, RuntimeError) as error:
        raise DataError(f"{not_keras} (config.json: {type(error).__name__})", fix=fix) from None
    refused = _refused(config)
    if refused:
        raise DataError(
            f"{path} cannot be loaded safely: {refused}",
            expected="a model of Keras's and dlrun's own layers, as dlrun train saves",
            fix="train the run again; dlrun loads no model file that names other code",
        )


def _refused(config: Any) -> str | None:
    """What in the config makes loading unsafe, or None (walked without recursion)."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        module = node.get("module")
        if isinstance(module, str) and module.split(".")[0] not in _TRUSTED_MODULES:
            return f"it names {module}.{node.get('class_name')}, outside Keras and dlrun"
        if module is not None and not isinstance(module, str):
            return f"a module entry is {type(module).__name__}, not a name"
        inner = node.get("config")
        if node.get("class_name") in _FILE_VOCABULARY_LAYERS and isinstance(inner, dict):
            vocabulary = inner.get("vocabulary")
            if isinstance(vocabulary, str):
                return (
                    f"its {node['class_name']} layer would read the file {vocabulary!r} "
                    "as a vocabulary"
                )
        stack.extend(node.values())
    return None
