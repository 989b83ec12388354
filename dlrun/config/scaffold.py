"""`dlrun init`: a starter config for a CSV file, written to train as it stands.

The file is read once to choose: the task (as the csv source infers it), the data source (a
table, or `text_csv` when the only input is a column of free text), the features (every
column but the target, less identifiers, free text among other columns, columns with empty
cells and constant columns, each named in a comment with the reason), split sizes for the
number of rows, and a small model with early stopping. Every choice is a plain key in the
file, commented where it was a judgement call, so the user edits rather than writes.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dlrun.core.errors import DataError, did_you_mean
from dlrun.data.checks import header_line, likely_delimiter

if TYPE_CHECKING:
    import pandas as pd

SMALL_TABLE_ROWS = 1000
"""Below this, larger validation and test shares keep their metrics from being pure noise."""
MAX_CATEGORIES = 50
"""A text column with more distinct values is an identifier or free text, not a category."""


@dataclass
class Starter:
    config: dict[str, Any]
    """The config as it will be written (paths relative to the config file)."""
    comments: dict[str, str] = field(default_factory=dict)
    """A comment for some `section.key`s, written beside them."""
    header: list[str] = field(default_factory=list)
    """What was inferred, for the top of the file and the terminal."""

    def to_yaml(self) -> str:
        lines = [f"# {part}" for line in self.header for part in textwrap.wrap(line, 96)]
        for key, value in self.config.items():
            if not isinstance(value, dict):
                lines.append(f"{key}: {_flow(value)}")
                continue
            lines.append(f"{key}:")
            for inner, item in value.items():
                comment = self.comments.get(f"{key}.{inner}")
                text = _flow(item)
                if isinstance(item, list) and len(text) > 70:  # one item a line, easy to edit
                    lines.append(f"  {inner}:" + (f"  # {comment}" if comment else ""))
                    lines += [f"    - {_flow(element)}" for element in item]
                    continue
                line = f"  {inner}: {text}"
                lines.append(f"{line}  # {comment}" if comment else line)
        return "\n".join(lines) + "\n"


def starter_config(data: Path, target: str, config_path: Path, name: str | None = None) -> Starter:
    """A config for predicting `target` from the rest of `data`, to be saved at `config_path`."""
    from dlrun.data.tabular import infer_task, read_table

    delimiter = sniff_delimiter(data)
    table = read_table(data, delimiter)
    if target not in table.columns:
        raise DataError(
            f"--target: column '{target}' is not in {data.name}."
            f"{did_you_mean(target, list(table.columns))}",
            expected=f"one of the columns: {', '.join(map(str, table.columns))}",
        )
    empty = int(table[target].isna().sum())
    if empty:
        raise DataError(
            f"{data.name}: {empty} rows have no {target}, and a config cannot leave rows out",
            fix="drop those rows from the file, then run dlrun init again",
        )
    task = infer_task(table[target])
    starter = Starter({"name": name or _name(data), "seed": 42})
    starter.header = [
        f"Starter config written by `dlrun init` from {data.name} ({len(table):,} rows, "
        f"{len(table.columns)} columns).",
        _task_line(table[target], target, task),
    ]
    others = [column for column in table.columns if column != target]
    free_text = [column for column in others if _is_free_text(table[column])]
    relative = _relative(data, config_path)
    if free_text and len(others) == 1:
        _text_model(starter, table, relative, free_text[0], target, task)
    else:
        _table_model(starter, table, relative, target, task, free_text)
    if delimiter != ",":
        starter.config["data"]["delimiter"] = delimiter
    starter.header.append(f"Train it: dlrun train {config_path}")
    return starter


def _table_model(
    starter: Starter,
    table: pd.DataFrame,
    path: str,
    target: str,
    task: str,
    free_text: list[str],
) -> None:
    features, left_out = [], []
    for column in table.columns:
        if column == target:
            continue
        reason = _reason_to_leave_out(table[column], column in free_text)
        if reason:
            left_out.append(f"{column} ({reason})")
        else:
            features.append(column)
    if not features:
        raise DataError(
            f"no usable feature columns besides '{target}'",
            received=", ".join(left_out),
            fix="add feature columns, or clean the ones listed",
        )
    small = len(table) < SMALL_TABLE_ROWS
    starter.config["data"] = {
        "source": "csv",
        "path": path,
        "target": target,
        "task": task,
        "features": features,
        "standardize": True,
        "validation_split": 0.15 if small else 0.1,
        "test_split": 0.15 if small else 0.1,
    }
    if left_out:
        starter.comments["data.features"] = "left out: " + "; ".join(left_out)
    starter.config["model"] = {"type": "mlp", "units": [32, 32] if small else [64, 64]}
    starter.config["train"] = {
        "epochs": 200,
        "batch_size": 32,
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "early_stopping": {"monitor": "val_loss", "patience": 10, "restore_best_weights": True},
    }
    starter.comments["train.epochs"] = "at most: early stopping ends training sooner"


def _text_model(
    starter: Starter, table: pd.DataFrame, path: str, text: str, target: str, task: str
) -> None:
    words = table[text].fillna("").astype(str).str.split().str.len()
    length = int(min(200, max(16, words.quantile(0.95))))
    starter.header.append(f"'{text}' holds free text: an LSTM reads its words.")
    starter.config["data"] = {
        "source": "text_csv",
        "path": path,
        "text": text,
        "target": target,
        "task": task,
        "max_tokens": 10000,
        "sequence_length": length,
        "validation_split": 0.1,
        "test_split": 0.15,
    }
    starter.comments["data.sequence_length"] = "95% of the texts have at most this many words"
    starter.config["model"] = {"type": "lstm", "units": [32], "embedding_dim": 32}
    starter.config["train"] = {
        "epochs": 10,
        "batch_size": 64,
        "optimizer": {"name": "adam", "learning_rate": 0.002},
        "early_stopping": {"monitor": "val_loss", "patience": 2, "restore_best_weights": True},
    }


def sniff_delimiter(path: Path) -> str:
    """The field separator the header line uses (`,` when it shows none)."""
    try:
        return likely_delimiter(header_line(path)) or ","
    except FileNotFoundError:
        raise DataError("data file not found", received=str(path), fix="check --data") from None


def _reason_to_leave_out(values: pd.Series, free_text: bool) -> str | None:
    import pandas as pd

    if values.isna().any():
        return f"{int(values.isna().sum())} empty cells"
    if values.nunique() <= 1:
        return "the same value in every row"
    if free_text:
        return "free text"
    if not pd.api.types.is_numeric_dtype(values) and values.nunique() > MAX_CATEGORIES:
        unique = values.nunique() == len(values)
        return "an identifier: every value differs" if unique else "too many categories"
    return None


def _is_free_text(values: pd.Series) -> bool:
    """Sentences rather than categories: long values, mostly several words, mostly distinct."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    text = values.dropna().astype(str)
    if text.empty:
        return False
    several_words = text.str.contains(r"\s\S", regex=True).mean() > 0.5
    return several_words and text.str.len().mean() >= 20 and text.nunique() > MAX_CATEGORIES


def _task_line(values: pd.Series, target: str, task: str) -> str:
    distinct = values.nunique()
    if task == "classification":
        return f"Task: classification of '{target}' ({distinct} classes)."
    return (
        f"Task: regression: '{target}' holds numbers ({distinct} distinct values); set "
        "data.task: classification to predict them as classes instead."
    )


def _name(data: Path) -> str:
    from dlrun.core.files import safe_name

    return safe_name(data.stem)


def _relative(data: Path, config_path: Path) -> str:
    """The data path as the config should hold it: relative to the config when the data is
    near (so the two move together), absolute when far (clearer than a string of ../)."""
    try:
        relative = Path(os.path.relpath(data.absolute(), config_path.absolute().parent))
    except ValueError:  # another drive (Windows): no relative path exists
        return str(data.absolute())
    return relative.as_posix() if relative.parts[:2] != ("..", "..") else str(data.absolute())


def _flow(value: Any) -> str:
    """One value as YAML on one line (`[a, b]`, `{name: adam}`, quoted only where needed)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=10**6, allow_unicode=True, sort_keys=False
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()
