"""Acceptance 5 of issue 20, for what validation used to miss: seeded mutations of a
`sequential` model's layer arguments. `dlrun validate` exits 0 or 2, never 1; and each config it
accepts builds and trains one epoch (a config error there is what validation should have said).

DLRUN_FUZZ_EXAMPLES raises the count (the suite draws 30)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dlrun.cli import app
from dlrun.config import load_config
from dlrun.experiment.run import run_experiment

runner = CliRunner()
COUNT = int(os.environ.get("DLRUN_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=COUNT,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example trains
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALUES = st.one_of(
    st.booleans(),
    st.integers(-3, 40),
    st.sampled_from([0, 1, 2**31, 10**9]),
    st.floats(-1.5, 1.5, allow_nan=False),
    st.sampled_from([None, "x", [], [2, 2], [True, 1]]),
)
LAYERS = st.sampled_from(
    [
        ("Dropout", "rate"),
        ("Dense", "units"),
        ("Dense", "use_bias"),
        ("BatchNormalization", "momentum"),
        ("BatchNormalization", "epsilon"),
        ("LeakyReLU", "negative_slope"),
        ("GaussianNoise", "stddev"),
    ]
)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.conftest import banded_images

    return banded_images(tmp_path_factory.mktemp("images"), 60)


@pytest.mark.slow
@FUZZ
@given(layer=LAYERS, value=VALUES, extra=st.booleans())
def test_mutated_layer_arguments_validate_with_0_or_2_and_accepted_ones_train(
    tmp_path_factory, images, layer, value, extra
):
    folder = tmp_path_factory.mktemp("case")
    name, argument = layer
    args = {argument: value}
    if name == "Dense" and argument != "units":
        args["units"] = 4
    if name == "GaussianNoise" and extra:
        args["seed"] = 1
    layers = [
        "Flatten",
        {name: args},
        {"Dense": {"units": 3, "activation": "softmax"}},
    ]
    config = folder / "config.yaml"
    import yaml

    config.write_text(
        yaml.safe_dump(
            {
                "name": "fuzz",
                "data": {"source": "idx", **{k: str(v) for k, v in images.items()}},
                "model": {"type": "sequential", "layers": layers},
                "train": {"epochs": 1, "batch_size": 32},
                "report": {"plots": False, "save_model": False},
            }
        )
    )
    result = runner.invoke(app, ["validate", str(config)])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        outcome = run_experiment(load_config(config), output_dir=folder / "out")
        assert outcome.status == "completed"
