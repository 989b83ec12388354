"""`model.type: pretrained_text`: a KerasHub preset, saved to a local folder here from a tiny
BERT config (no download), fine-tunes on SMS spam and predicts from raw strings after reload."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from dlrun.config import load_config
from dlrun.experiment.run import run_experiment
from dlrun.models.saved import load_saved_model
from tests.conftest import SHARED_DATA, write_config

hub = pytest.importorskip("keras_hub")
SMS = SHARED_DATA / "sms_spam.csv"
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_bert_preset(folder: Path, texts: list[str]) -> Path:
    """A 1-layer, 32-wide BERT with a word vocabulary of the texts' 2,000 commonest words,
    saved as a KerasHub preset (what `from_preset(NAME).save_to_preset(folder)` writes)."""
    words = collections.Counter(w for t in texts for w in re.findall(r"\w+", t.lower()))
    vocabulary = SPECIAL + [w for w, _ in words.most_common(2000)]
    tokenizer = hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    backbone = hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=2,
        hidden_dim=32,
        intermediate_dim=64,
        max_sequence_length=64,
    )
    preprocessor = hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=64)
    classifier = hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=preprocessor)
    classifier.save_to_preset(str(folder))
    return folder


@pytest.mark.slow  # ~30 s: a BERT epoch over 4,000 texts
@pytest.mark.skipif(not SMS.is_file(), reason="needs ../shared/data")
def test_a_local_kerashub_preset_fine_tunes_on_sms_spam_and_reads_raw_strings(tmp_path):
    texts = pd.read_csv(SMS)["body"].astype(str).tolist()
    preset = tiny_bert_preset(tmp_path / "tiny_bert", texts)
    config = write_config(
        tmp_path,
        f"""
name: sms_bert
data: {{source: text_csv, path: {SMS}, text: body, target: spam, sequence_length: 32,
  validation_split: 0.1, test_split: 0.15}}
model: {{type: pretrained_text, preset: {preset}}}
train: {{epochs: 1, batch_size: 64, optimizer: {{name: adam, learning_rate: 0.001}}}}
report: {{plots: false}}
""",
    )

    outcome = run_experiment(load_config(config))

    metrics = json.loads((outcome.run_dir / "metrics.json").read_text())
    # 13% of the messages are spam: one epoch beats always answering "ham".
    assert metrics["test_accuracy"] > 0.9, metrics
    model = load_saved_model(outcome.run_dir / "model.keras")
    raw = tf.constant([["WINNER!! claim your free prize now, call 0800"], ["see you at lunch?"]])
    predictions = np.asarray(model(raw))
    assert predictions.shape == (2, 1)
    assert predictions[0, 0] > predictions[1, 0]


def test_the_model_reads_raw_strings_and_round_trips_through_model_keras(tmp_path):
    from dlrun.data import DataSpec
    from dlrun.models import build_model
    from dlrun.models.pretrained_text import PretrainedTextParams

    texts = ["free prize call now", "see you at lunch", "win cash now", "how are you"]
    preset = tiny_bert_preset(tmp_path / "tiny_bert", texts)
    spec = DataSpec((1,), "classification", input_kind="text", num_classes=3, sequence_length=8)
    model = build_model(PretrainedTextParams(preset=str(preset)), spec)
    raw = tf.constant([[t] for t in texts])

    predictions = np.asarray(model(raw))
    model.save(tmp_path / "model.keras")
    reloaded = load_saved_model(tmp_path / "model.keras")

    assert predictions.shape == (4, 3)
    np.testing.assert_allclose(np.asarray(reloaded(raw)), predictions, atol=1e-6)


def test_a_preset_that_cannot_be_loaded_is_a_data_error(tmp_path):
    from dlrun.core.errors import DataError
    from dlrun.data import DataSpec
    from dlrun.models import build_model
    from dlrun.models.pretrained_text import PretrainedTextParams

    spec = DataSpec((1,), "classification", input_kind="text", num_classes=2, sequence_length=8)
    with pytest.raises(DataError, match="cannot load the KerasHub preset"):
        build_model(PretrainedTextParams(preset=str(tmp_path / "missing")), spec)
