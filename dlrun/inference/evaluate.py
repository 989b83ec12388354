"""`dlrun evaluate`: a saved run's model on its own data again, or on other data.

The run's own data is rebuilt from its resolved config and seed, with the code that built it
for training, and checked against the run's `data.json`: the same preprocessing statistics
must come out, or the data has changed since and the evaluation stops. Its test split then
gives back the run's test metrics exactly (same batches, same compiled loss and metrics).

Other data (`--data FILE`, or a config whose `data:` names it) is encoded with the run's
preprocessing, never with statistics of its own, and streamed a chunk at a time
(`dlrun.inference.inputs.example_chunks`), read twice: once for the predictions the
diagnostics score, once (through tf.data) for Keras's loss and metrics. Memory holds one chunk,
and one label and one output per example.

Each evaluation is saved as a new `evaluations/<time>-<split>.json` in the run folder;
`metrics.json` is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from dlrun import __version__, runs
from dlrun.core.errors import DataError, DlrunError
from dlrun.data import Split, Splits, load_splits
from dlrun.data.labels import ONE_HOT_NOTE, one_hot_labels
from dlrun.inference.examples import Examples
from dlrun.inference.inputs import example_chunks
from dlrun.inference.saved import SavedRun
from dlrun.report import diagnostics
from dlrun.runs.folder import check_writable
from dlrun.training import environment

SPLITS = ("train", "validation", "test", "all")
OWN_DATA = "the run's own data"
# Sources whose files `example_chunks` reads with the run's preprocessing.
READABLE = ("csv", "parquet", "text_csv", "time_series", "image_dir")


@dataclass
class Evaluation:
    run_dir: Path
    data: str
    """What was evaluated: the run's own data, or a file or config."""
    split: str
    examples: int
    metrics: dict[str, Any]
    """Loss and metrics by name (`loss`, `accuracy`, `macro_f1`, `per_class`, ...)."""
    reference: dict[str, Any] = field(default_factory=dict)
    """The run's own test metrics, by the same names, when this is the split it tested on."""
    notes: list[str] = field(default_factory=list)
    saved_to: Path | None = None

    def differences(self) -> dict[str, tuple[Any, Any]]:
        """{name: (run's value, this evaluation's)} for every reference value that changed."""
        return {
            name: (value, self.metrics.get(name))
            for name, value in self.reference.items()
            if self.metrics.get(name) != value
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "dlrun": __version__,
            "data": self.data,
            "split": self.split,
            "examples": self.examples,
            "metrics": self.metrics,
            "matches_run_test_metrics": (not self.differences()) if self.reference else None,
            "notes": self.notes,
        }


def evaluate(
    saved: SavedRun, data: Path | None = None, split: str | None = None, *, save: bool = True
) -> Evaluation:
    """Evaluate the run's model; `split` defaults to test (own data) or all (other data)."""
    if split is not None and split not in SPLITS:
        raise DlrunError(f"--split: unknown split '{split}'", expected=", ".join(SPLITS))
    if save:  # a read-only run folder fails now, not after the evaluation
        check_writable(saved.path / runs.EVALUATIONS_DIR)
    config_data, described = _data_to_evaluate(saved, data)
    if config_data == saved.config.data or config_data.source not in READABLE:
        evaluation = _evaluate_split(saved, config_data, described, split or "test")
    else:
        evaluation = _evaluate_whole(saved, config_data, described, split)
    if save:
        label = evaluation.split
        if described != OWN_DATA:
            label += f"-{Path(described).stem}"  # which data, in the file name
        folder = runs.RunFolder(saved.path)
        evaluation.saved_to = folder.write_evaluation(label, evaluation.to_dict())
    return evaluation


def _evaluate_split(saved: SavedRun, config_data: Any, described: str, split: str) -> Evaluation:
    """A split of the data rebuilt as training built it; the run's own test split comes with
    the run's test metrics to compare with."""
    part = _part(_rebuilt_splits(saved, config_data, described), split)
    reference, notes = {}, []
    if described == OWN_DATA and split == "test":
        reference, note = _run_test_metrics(saved, part)
        notes += [note] if note else []
    metrics = _split_metrics(saved, part)
    return Evaluation(saved.path, described, split, len(part), metrics, reference, notes)


def _evaluate_whole(
    saved: SavedRun, config_data: Any, described: str, split: str | None
) -> Evaluation:
    """Every example of other data, encoded with the run's preprocessing, streamed."""
    from dlrun.inference.predict import batches
    from dlrun.training import trainer

    if split not in (None, "all"):
        raise DlrunError(
            f"--split {split} applies to the run's own data; --data {described} is evaluated whole",
            fix="leave out --split (or pass --split all)",
        )
    model, batch_size = saved.compiled_model(), saved.config.train.batch_size

    def chunks() -> Iterator[Examples]:
        return example_chunks(saved, Path(config_data.path), data=config_data, labelled=True)

    # Pass 1, in Python: predictions and labels, and any bad input met as a DataError here
    # rather than inside a tf.data pass.
    labels, predictions, notes, first = [], [], {}, None
    for chunk in chunks():
        assert chunk.y is not None  # labelled=True requires the targets
        first = first or chunk
        labels.append(chunk.y)
        predictions.append(trainer.predict(model, batches(chunk.x, batch_size)))
        notes.update(dict.fromkeys(chunk.notes))
    assert first is not None  # every reader refuses an input without examples
    y = np.concatenate(labels)
    # Pass 2: Keras's loss and metrics over the run's batches, whatever the chunks'.
    dataset = _stream(chunks, first, batch_size, len(y))
    metrics = _metrics(saved, model, dataset, y, np.concatenate(predictions))
    return Evaluation(saved.path, described, "all", len(y), metrics, notes=list(notes))


def _stream(chunks: Callable[[], Iterator[Examples]], first: Examples, batch_size: int, size: int):
    """The chunks' `(x, y)` as a tf.data dataset of `batch_size` batches, read again from the
    input on each pass; `first`, a chunk already read, gives the shapes and types."""
    import tensorflow as tf

    signature = tuple(
        tf.TensorSpec(
            (None, *array.shape[1:]),
            tf.string if array.dtype == object else tf.as_dtype(array.dtype),  # texts
        )
        for array in (first.x, first.y)
    )
    return (
        tf.data.Dataset.from_generator(
            lambda: ((chunk.x, chunk.y) for chunk in chunks()), output_signature=signature
        )
        .unbatch()
        .batch(batch_size)
        # Its length, known from pass 1: Keras warns about a dataset of unknown length.
        .apply(tf.data.experimental.assert_cardinality(-(-size // batch_size)))
    )


def _data_to_evaluate(saved: SavedRun, data: Path | None) -> tuple[Any, str]:
    """The `data:` section to read, and how to name it."""
    own = saved.config.data
    if data is None:
        return own, OWN_DATA
    if data.suffix.lower() in (".yaml", ".yml"):
        from dlrun.config import load_config

        other = load_config(data).data
        if other.source != own.source:
            raise DataError(
                f"--data {data}: its data source is {other.source}, the run trained on "
                f"{own.source}",
                fix="pass a config (or a file) of the same kind of data",
            )
        return other, str(data)
    if "path" not in type(own).model_fields:
        raise DataError(
            f"--data FILE needs a run whose data is read from one path; this run's data "
            f"source is {own.source}",
            fix="pass a config whose data: section describes the data instead",
        )
    updated = {**own.model_dump(), "path": data}
    return type(own).model_validate(updated, context={"base_dir": Path.cwd()}), str(data)


def _rebuilt_splits(saved: SavedRun, config_data: Any, described: str) -> Splits:
    """The splits as training built them, refused when their preprocessing is not the run's."""
    splits = load_splits(config_data, saved.config.seed)
    rebuilt = json.loads(json.dumps(splits.spec.to_dict(), default=str))
    trained = saved.info.get("preprocessing")
    if isinstance(trained, dict) and trained.get("labels") == ONE_HOT_NOTE:
        rebuilt["preprocessing"]["labels"] = ONE_HOT_NOTE  # training's loss added it, not data
    changed = [key for key, value in saved.info.items() if key in rebuilt and rebuilt[key] != value]
    if changed:
        raise DataError(
            f"{described} no longer gives the preprocessing the run trained with (different "
            f"{', '.join(changed)} than its data.json), so the data has changed since training",
            fix="restore the data the run trained on, or pass --data FILE to evaluate a file "
            "with the run's own preprocessing",
        )
    return splits


def _part(splits: Splits, split: str) -> Split:
    if split == "all":
        parts = [p for p in (splits.train, splits.validation, splits.test) if p is not None]
        x = np.concatenate([p.x for p in parts])  # one dtype: the parts come from one source
        return Split(x, np.concatenate([p.y for p in parts]), x_divisor=parts[0].x_divisor)
    part = {"train": splits.train, "validation": splits.validation, "test": splits.test}[split]
    if part is None:
        raise DlrunError(
            "--split validation: the run held out no validation data (data.validation_split: 0)",
            fix="pick --split train, test or all",
        )
    return part


def _run_test_metrics(saved: SavedRun, test: Split) -> tuple[dict[str, Any], str | None]:
    """The run's own `test_*` metrics, when this test split is the one it was tested on."""
    expected = saved.run.info.get("test_fingerprint")
    if expected and expected != environment.split_fingerprint(test):
        return {}, "the test split differs from the one the run was tested on (fingerprint)"
    reference = {
        key.removeprefix("test_"): value
        for key, value in saved.run.metrics.items()
        if key.startswith("test_")
    }
    if "per_class" in saved.run.metrics:
        reference["per_class"] = saved.run.metrics["per_class"]
    return reference, None


def _split_metrics(saved: SavedRun, split: Split) -> dict[str, Any]:
    """`_metrics` on a split in memory, through the run's own test pipeline: same batches,
    same order, so the same sums."""
    from dlrun.data.pipeline import build_pipelines
    from dlrun.training import trainer

    config = saved.config
    dataset = build_pipelines(
        Splits(train=split, validation=None, test=split, spec=saved.spec),
        config.train.batch_size,
        config.seed,
    ).test
    model = saved.compiled_model()
    return _metrics(saved, model, dataset, split.y, trainer.predict(model, dataset))


def _metrics(
    saved: SavedRun, model: Any, dataset: Any, y: np.ndarray, predictions: np.ndarray
) -> dict[str, Any]:
    """Keras's loss and metrics on the `(x, y)` batches of `dataset`, then the diagnostics
    training adds (per-class scores, AUC, R², ...) from `y` and the model's `predictions`,
    for the names Keras does not give: the same recipe as metrics.json."""
    from dlrun.training import trainer

    if saved.spec.preprocessing.get("labels") == ONE_HOT_NOTE:  # as the run trained on them
        dataset = one_hot_labels(dataset, int(saved.spec.num_classes or 0))
    metrics: dict[str, Any] = trainer.evaluate(model, dataset, prefix="")
    extra, _figures = diagnostics.diagnose(
        saved.spec.task,
        y,
        predictions,
        saved.class_names,
        target=getattr(saved.config.data, "target", None),
    )
    for key, value in extra.items():
        metrics.setdefault(key.removeprefix("test_"), value)
    return metrics
