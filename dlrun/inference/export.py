"""`dlrun export`: a saved run's model as a TensorFlow SavedModel or a TFLite file.

- `savedmodel`: `model.export()`, the format TF Serving (and `tf.saved_model.load`) reads; its
  `serve` signature takes what `model.keras` takes (raw strings for text models).
- `tflite`: the SavedModel through `tf.lite.TFLiteConverter`, built-in TFLite ops only, for the
  TFLite interpreter / LiteRT on phones and microcontrollers. Models whose layers TFLite has no
  ops for (text vectorisation: lowercasing, regexes, lookup tables) are refused up front with
  the reason; anything else the converter rejects is reported with its own message.

By default both go to the run folder's `export/` folder; an existing export is replaced whole.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dlrun import runs
from dlrun.core import files
from dlrun.core.errors import DlrunError
from dlrun.inference.saved import SavedRun
from dlrun.runs.folder import check_writable, writing
from dlrun.training.environment import native_stderr_silenced

if TYPE_CHECKING:
    import keras

FORMATS = ("savedmodel", "tflite")
SAVEDMODEL_DIR = "savedmodel"
TFLITE_FILE = "model.tflite"
SAVEDMODEL_MARKER = "saved_model.pb"


class ExportError(DlrunError):
    """The model cannot be exported in the format asked for, or not to that place."""


@dataclass(frozen=True)
class Exported:
    path: Path
    notes: list[str]


def export(saved: SavedRun, fmt: str, out: Path | None = None) -> Exported:
    """Write the export; where it went, and what a user of it should know."""
    if fmt not in FORMATS:
        raise ExportError(f"--format: unknown format '{fmt}'", expected=", ".join(FORMATS))
    target = out or saved.path / runs.EXPORT_DIR / (
        SAVEDMODEL_DIR if fmt == "savedmodel" else TFLITE_FILE
    )
    check_writable(target.parent)  # a read-only run folder fails before the model is loaded
    model = saved.load_model()
    if fmt == "savedmodel":
        _refuse_to_replace_other_folders(target)
        with writing(target):
            files.replace_tree(target, lambda folder: _save(model, folder))
        return Exported(target, [])
    if target.is_dir():
        raise ExportError(f"--out {target} is a folder", fix="give a file name, e.g. model.tflite")
    content, notes = tflite_bytes(model)
    with writing(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomic(target, content)
    return Exported(target, notes)


def tflite_bytes(model: keras.Model) -> tuple[bytes, list[str]]:
    """The converted model, built-in ops only. Recurrent layers only convert with a fixed batch
    size (TFLite needs their loop's shapes static), so a failed conversion is retried with
    batches of one example before it is reported."""
    _refuse_what_tflite_cannot_run(model)
    try:
        return _convert(model, batch_size=None), []
    except ExportError:
        pass
    content = _convert(model, batch_size=1)
    return content, ["the TFLite model takes one example per call (a fixed batch size of 1)"]


def _convert(model: keras.Model, batch_size: int | None) -> bytes:
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="dlrun-export-") as folder:
        _save(model, Path(folder), batch_size)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        try:
            with native_stderr_silenced():  # the converter prints its MLIR diagnostics itself
                return bytes(converter.convert())
        except Exception as error:  # the converter raises many types, all meaning "cannot"
            raise ExportError(
                f"the TFLite converter cannot convert this model: {_reason(error)}",
                fix="export --format savedmodel instead (TF Serving runs every model)",
            ) from None


def _save(model: keras.Model, folder: Path, batch_size: int | None = None) -> None:
    import tensorflow as tf

    signature = None
    if batch_size is not None:
        signature = [
            tf.TensorSpec((batch_size, *tensor.shape[1:]), tensor.dtype) for tensor in model.inputs
        ]
    model.export(str(folder), format="tf_saved_model", verbose=False, input_signature=signature)


def _reason(error: Exception) -> str:
    """The converter's last "error:" line, without its MLIR source locations."""
    reasons = [
        line.rsplit("error:", 1)[1].strip() for line in str(error).splitlines() if "error:" in line
    ]
    reason = reasons[-1] if reasons else (str(error).splitlines() or [type(error).__name__])[0]
    return reason.split("\\n")[0][:300]


def _refuse_what_tflite_cannot_run(model: keras.Model) -> None:
    import keras

    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.TextVectorization):
            raise ExportError(
                f"TFLite cannot run this model: its '{layer.name}' layer (TextVectorization) turns "
                "raw strings into token ids with string ops (lowercasing, regular expressions, "
                "a lookup table) that TFLite's built-in ops do not have",
                fix="export --format savedmodel (TF Serving runs it, raw text in), or tokenise "
                "outside the model",
            )


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found


def _refuse_to_replace_other_folders(target: Path) -> None:
    # An export replaces an earlier export, never a folder of something else.
    if target.exists() and not (target / SAVEDMODEL_MARKER).is_file():
        if target.is_dir() and not any(target.iterdir()):
            return
        raise ExportError(
            f"--out {target} exists and is not a SavedModel, so it is not replaced",
            fix="pass a new folder name, or remove that one first",
        )
