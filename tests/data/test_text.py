"""`text_csv`: raw strings in, a vocabulary adapted on the training split only."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from dlrun.config import load_config
from dlrun.core.errors import DataError
from dlrun.data import load_splits
from tests.conftest import write_config


def text_config(tmp_path, extra: str = ""):
    rows = [
        ("win a free prize now", 1),
        ("call me later", 0),
        ("free entry win cash", 1),
        ("see you at lunch", 0),
    ] * 10 + [("zebra zebra zebra", 0)]
    pd.DataFrame(rows, columns=["message", "spam"]).to_csv(tmp_path / "sms.csv", index=False)
    return write_config(
        tmp_path,
        "data: {source: text_csv, path: sms.csv, text: message, target: spam, "
        f"sequence_length: 8, test_split: 0.25{extra}}}\nmodel: {{type: lstm}}\n",
    )


def test_texts_stay_raw_strings_and_the_spec_carries_the_vocabulary(tmp_path):
    config = load_config(text_config(tmp_path))
    splits = load_splits(config.data, config.seed)
    assert splits.train.x.shape[1:] == (1,)
    assert isinstance(splits.train.x[0, 0], str)
    assert splits.spec.input_kind == "text"
    assert splits.spec.vocabulary[:2] == ["", "[UNK]"]
    assert {"free", "win", "lunch"} <= set(splits.spec.vocabulary)
    assert splits.spec.class_names == ["0", "1"]


def test_the_vocabulary_comes_from_training_texts_only(tmp_path):
    config = load_config(text_config(tmp_path))
    splits = load_splits(config.data, config.seed)
    training_words = {w for text in splits.train.x[:, 0] for w in text.split()}
    assert set(splits.spec.vocabulary) - {"", "[UNK]"} <= training_words


def test_a_missing_text_column_is_a_clear_error(tmp_path):
    config = load_config(text_config(tmp_path), ["data.text=mesage"])
    with pytest.raises(
        DataError,
        match=re.escape("data.text: column 'mesage' is not in sms.csv. Did you mean 'message'?"),
    ):
        load_splits(config.data, config.seed)
