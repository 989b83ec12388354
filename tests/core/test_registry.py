"""`Registry`: how models and data sources are found by name."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from dlrun.core.errors import ConfigError
from dlrun.core.registry import Registry


class ToyParams(BaseModel):
    type: str = "toy"


@pytest.fixture
def layers() -> Registry:
    registry = Registry("layer kind")

    @registry.register("dense", ToyParams)
    def build_dense(params, spec):
        """A dense layer.

        More detail that is not part of the summary.
        """
        return "dense"

    @registry.register("conv", ToyParams)
    def build_conv(params, spec):
        return "conv"

    return registry


def test_registered_builder_is_found_by_name(layers):
    entry = layers.get("dense")
    assert entry.name == "dense"
    assert entry.params is ToyParams
    assert entry.build(None, None) == "dense"


def test_register_returns_the_builder_unchanged():
    registry = Registry("thing")

    def build(params, spec):
        return 1

    assert registry.register("one", ToyParams)(build) is build


def test_summary_is_the_first_line_of_the_docstring(layers):
    assert layers.get("dense").summary == "A dense layer."
    assert layers.get("conv").summary == ""


def test_registering_a_name_twice_raises(layers):
    with pytest.raises(ValueError, match="layer kind 'dense' is already registered"):
        layers.register("dense", ToyParams)(lambda params, spec: None)


def test_unknown_name_suggests_the_closest_and_lists_the_known_names(layers):
    with pytest.raises(ConfigError) as caught:
        layers.get("dens")
    message = str(caught.value)
    assert "unknown layer kind 'dens'. Did you mean 'dense'?" in message
    assert "expected: one of: conv, dense" in message


def test_unknown_name_with_nothing_close_gets_no_suggestion(layers):
    with pytest.raises(ConfigError) as caught:
        layers.get("transformer")
    assert "Did you mean" not in str(caught.value)


def test_names_are_sorted(layers):
    assert layers.names() == ["conv", "dense"]
    assert [entry.name for entry in layers.entries()] == ["conv", "dense"]


def test_membership_is_by_name(layers):
    assert "conv" in layers
    assert "pool" not in layers


def test_models_registry_holds_mlp_and_sequential():
    from dlrun.models import models

    assert {"mlp", "sequential"} <= set(models.names())
    assert models.get("mlp").params.model_fields["type"].default == "mlp"


def test_data_sources_registry_holds_every_built_in_source():
    from dlrun.data import sources

    assert {"mnist", "fashion_mnist", "idx", "csv"} <= set(sources.names())
    for name in ("mnist", "fashion_mnist", "idx", "csv"):
        assert sources.get(name).params.model_fields["source"].default == name
