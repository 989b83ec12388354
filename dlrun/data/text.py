"""`text_csv`: a CSV with a text column, vectorised by a vocabulary adapted on training text only.

The source hands the model raw strings and the vocabulary; the model holds the
`TextVectorization` layer, so its saved `model.keras` predicts from raw text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, PositiveInt

from dlrun.core.params import ConfigPath
from dlrun.data.base import DataSpec, HeldOutParams, Split, Splits, Task
from dlrun.data.checks import require_classes_in_training, require_columns, require_complete
from dlrun.data.registry import sources
from dlrun.data.split import train_validation_test
from dlrun.data.tabular import encode_target, read_table

if TYPE_CHECKING:
    import numpy as np  # imported where used: `dlrun validate` must stay fast


class TextCsvParams(HeldOutParams):
    source: Literal["text_csv"] = "text_csv"
    path: ConfigPath = Field(
        description="The CSV file, or a glob of shards with the same header "
        "(`data/part-*.csv`), read in sorted order, end to end."
    )
    text: str = Field(description="The column holding the text.")
    target: str = Field(description="The column to predict.")
    task: Task = Field("classification", description="`classification` or `regression`.")
    max_tokens: PositiveInt = Field(
        20000, description="Vocabulary size, padding and `[UNK]` included."
    )
    sequence_length: PositiveInt = Field(100, description="Tokens per text, padded or cut.")
    standardize: Literal["lower_and_strip_punctuation", "lower", "strip_punctuation"] | None = (
        Field(
            "lower_and_strip_punctuation",
            description="Text clean-up before splitting into words: `lower_and_strip_punctuation`, "
            "`lower`, `strip_punctuation`, or `null` for none.",
        )
    )
    delimiter: str = Field(",", description="Field separator.")


def adapt_vocabulary(texts: np.ndarray, params: TextCsvParams) -> list[str]:
    import keras

    vectorize = keras.layers.TextVectorization(
        max_tokens=params.max_tokens,
        standardize=params.standardize,
        output_sequence_length=params.sequence_length,
    )
    vectorize.adapt(texts.ravel())
    return [str(token) for token in vectorize.get_vocabulary()]


@sources.register("text_csv", TextCsvParams)
def load_text_csv(params: TextCsvParams, seed: int) -> Splits:
    """Texts and labels from a CSV; the vocabulary comes from the training split only."""
    import numpy as np

    table = read_table(params.path, params.delimiter)
    require_columns(
        table, params.path, {"data.text": [params.text], "data.target": [params.target]}
    )
    require_complete(table[[params.target]], params.path, "target")
    texts = table[params.text].fillna("").astype(str).to_numpy(dtype=object)[:, None]
    y, class_names = encode_target(table[params.target], params.task, params.target)

    stratify = params.task == "classification"
    everything = Split(texts, y)
    train, validation, test = train_validation_test(
        everything, params, seed=seed, stratify=stratify
    )
    if class_names is not None:
        where = f"data.target: column '{params.target}' of {params.path.name}"
        require_classes_in_training(train.y, y, class_names, where)
    vocabulary = adapt_vocabulary(train.x, params)
    spec = DataSpec(
        input_shape=(1,),
        task=params.task,
        input_kind="text",
        num_classes=len(class_names) if class_names else None,
        class_names=class_names,
        target_mean=None if class_names else float(np.mean(train.y)),
        vocabulary=vocabulary,
        sequence_length=params.sequence_length,
        preprocessing={"standardize": params.standardize, "max_tokens": params.max_tokens},
    )
    return Splits(train=train, validation=validation, test=test, spec=spec)
