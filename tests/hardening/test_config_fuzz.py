"""Property-based tests: whatever a config file or a `--set` holds, loading it ends in a valid
config or a `ConfigError` (exit code 2) that names the file or the override, never in another
exception, a hang or a process that runs out of memory.

The same holds for `--filter` expressions. CI runs a seeded 200 examples per property: 1,850
config files and overrides (the `dlrun validate` property draws a quarter) and 200 filters, in
about 15 s. The full run draws more; DLRUN_FUZZ_EXAMPLES sets the number per property:

    DLRUN_FUZZ_EXAMPLES=2000 python -m pytest tests/hardening/test_config_fuzz.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from dlrun.analysis import filters
from dlrun.analysis.filters import FilterError
from dlrun.cli import app
from dlrun.config import ExperimentConfig, load_config, to_yaml
from dlrun.config.safe_yaml import MAX_DEPTH, MAX_VALUES
from dlrun.config.schema import SECTION_REGISTRIES, OptimizerConfig, ReportConfig, TrainConfig
from dlrun.core.errors import ConfigError
from tests.conftest import CONFIGS

FUZZ = settings(
    max_examples=int(os.environ.get("DLRUN_FUZZ_EXAMPLES", "200")),
    derandomize=True,  # seeded: CI sees the same examples every time
    database=None,  # no example database: the fixed seed reproduces a failure
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Example configs as plain data: valid starting points for mutations and overrides.
BASES = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(CONFIGS.glob("*.yaml"))}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def outcome(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig | str:
    """The loaded config, or the error message; any other exception fails the property."""
    try:
        config = load_config(path, overrides)
    except ConfigError as error:
        message = error.describe()
        assert error.exit_code == 2
        assert str(path) in message or "--set" in message, message  # names the file or override
        assert max(map(len, message.splitlines())) < 1000  # readable, however large the input
        return message
    to_yaml(config)  # what the run folder gets must be writable too
    return config


def write(folder: Path, text: str | bytes) -> Path:
    path = folder / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


# Strategies

unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2**64, 1e-320, 1e308]),
)
# Strings that YAML or the schema treat specially.
tricky_strings = st.sampled_from(
    [
        "",
        " ",
        "~",
        "null",
        "yes",
        "no",
        "on",
        "0x1F",
        "1e-3",
        ".inf",
        "-.nan",
        "2025-02-30",
        "adam",
        "relu",
        "mlp",
        "csv",
        "auto",
        "../../etc/passwd",
        "a\x00b",
        "\u202e",
        "日本語",
        "💥",
    ]
)
scalars = st.one_of(st.none(), st.booleans(), numbers, unicode_text, tricky_strings)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(unicode_text, children, max_size=4)
    ),
    max_leaves=12,
)


def dotted_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key the schema knows, as `--set` spells it (`train.optimizer.learning_rate`)."""
    keys = []
    for name, field in model.model_fields.items():
        keys.append(f"{prefix}{name}")
        annotation = field.annotation
        nested = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
        for candidate in nested:
            if issubclass(candidate, BaseModel):
                keys += dotted_keys(candidate, f"{prefix}{name}.")
    return keys


KNOWN_KEYS = sorted(
    {
        *(
            f"{section}.{key}"
            for section, registry in SECTION_REGISTRIES.items()
            for entry in registry.entries()
            for key in dotted_keys(entry.params)
        ),
        *dotted_keys(TrainConfig, "train."),
        *dotted_keys(OptimizerConfig, "train.optimizer."),
        *dotted_keys(ReportConfig, "report."),
        "name",
        "seed",
        "data",
        "model",
        "train",
        "report",
    }
)
keys = st.one_of(
    st.sampled_from(KNOWN_KEYS),
    st.lists(
        st.sampled_from(["train", "model", "0", "1", "units", "x", "", "layers"]), min_size=1
    ).map(".".join),
    unicode_text,
)


def set_key(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Put `value` at a dotted key, making mappings on the way (what a careless edit does)."""
    node = document
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


# Properties


@FUZZ
@given(text=st.one_of(unicode_text, st.text(max_size=300), st.sampled_from(["", "\n", "# x\n"])))
def test_any_text_as_a_config_file(folder, text):
    outcome(write(folder, text))


@FUZZ
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_a_config_file(folder, raw):
    outcome(write(folder, raw))


@FUZZ
@given(document=values)
def test_any_yaml_document(folder, document):
    outcome(write(folder, dump(document)))


@FUZZ
@given(base=st.sampled_from(sorted(BASES)), key=keys, value=values)
def test_a_valid_config_with_one_key_set_to_anything(folder, base, key, value):
    document = yaml.safe_load(dump(BASES[base]))  # a deep copy
    set_key(document, key, value)
    outcome(write(folder, dump(document)))


@FUZZ
@given(
    base=st.sampled_from(sorted(BASES)),
    overrides=st.lists(
        st.one_of(
            st.tuples(keys, values.map(lambda v: dump(v).strip())).map("=".join),
            st.tuples(keys, st.text(max_size=40)).map("=".join),
            st.text(max_size=40),
        ),
        max_size=3,
    ),
)
def test_any_set_overrides_on_a_valid_config(folder, base, overrides):
    outcome(write(folder, dump(BASES[base])), overrides)


@FUZZ
@given(base=st.sampled_from(sorted(BASES)), data=st.data())
def test_a_key_written_twice_is_named(folder, base, data):
    lines = dump(BASES[base]).splitlines()
    keyed = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("-")]
    i = data.draw(st.sampled_from(keyed))
    key = lines[i].split(":")[0].strip()
    message = outcome(write(folder, "\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])))
    assert isinstance(message, str) and f"{key}: the key appears twice" in message


@FUZZ
@given(fan_out=st.integers(2, 12), levels=st.integers(1, 12), where=st.sampled_from(KNOWN_KEYS))
def test_aliases_that_expand_too_far_are_refused_without_expanding(folder, fan_out, levels, where):
    """A 'billion laughs' document: each anchor repeats the one before it `fan_out` times, and
    the last one is used at a key of the schema."""
    anchors = ", ".join(
        ["l0: &l0 lol"]
        + [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * fan_out)}]" for n in range(1, levels + 1)]
    )
    document = yaml.safe_load(dump(BASES["mnist_mlp"]))
    set_key(document, where, "ALIAS_HERE")
    text = f"x-anchors: {{{anchors}}}\n" + dump(document).replace("ALIAS_HERE", f"*l{levels}")
    result = outcome(write(folder, text))
    assert isinstance(result, str)  # x-anchors is not a config key
    sizes = [1]  # values each anchor expands to
    for _ in range(levels):
        sizes.append(1 + fan_out * sizes[-1])
    expanded = f"expands to more than {MAX_VALUES:,} values" in result
    if sizes[-1] > MAX_VALUES:
        assert expanded
    if 2 * sum(sizes) + 100 < MAX_VALUES:  # the anchors, the alias and the rest of the config
        assert not expanded


def nested(depth: int, mapping: bool) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value} if mapping else [value]
    return value


@FUZZ
@given(depth=st.integers(1, 3 * MAX_DEPTH), flow=st.booleans(), mapping=st.booleans())
def test_deep_nesting_is_refused_past_the_limit(folder, depth, flow, mapping):
    # Optimizer arguments may hold anything (Keras checks them), so shallow nesting is valid.
    document = yaml.safe_load(dump(BASES["mnist_mlp"]))
    document["train"]["optimizer"] = {"name": "adam", "extra": nested(depth, mapping)}
    result = outcome(write(folder, yaml.safe_dump(document, default_flow_style=flow)))
    too_deep = depth + 4 > MAX_DEPTH  # the top level, train, optimizer, then the leaf
    assert (isinstance(result, str) and "levels deep" in result) == too_deep


@FUZZ
@given(
    tag=st.sampled_from(
        [
            "!!python/object/apply:os.system",
            "!!python/object/new:os.system",
            "!!python/name:os.system",
            "!!python/module:os",
            "!!python/object:pathlib.Path",
            "!!python/tuple",
            "!!python/bytes",
            "!custom",
        ]
    ),
    key=st.sampled_from(["name", "seed", "model", "train", "data"]),
    where=st.sampled_from(["file", "override"]),
)
def test_tags_that_build_python_objects_are_refused_and_never_run(folder, tag, key, where):
    canary = folder / "canary"
    payload = f"{tag} ['touch {canary}']"
    if where == "file":
        document = {k: v for k, v in BASES["mnist_mlp"].items() if k != key}
        result = outcome(write(folder, f"{key}: {payload}\n" + dump(document)))
    else:
        result = outcome(write(folder, dump(BASES["mnist_mlp"])), [f"{key}={payload}"])
    assert isinstance(result, str) and "is not allowed" in result
    assert not canary.exists()


# Filters (`dlrun runs/compare/plot/report --filter`): parsed by a small grammar, never eval'd.

filter_words = st.sampled_from(
    [
        "a",
        "test_accuracy",
        "model.units.0",
        "`odd-name`",
        "==",
        "!=",
        "<",
        ">=",
        "and",
        "or",
        "not",
        "in",
        "(",
        ")",
        "[",
        "]",
        ",",
        "'x'",
        '"y"',
        "1",
        "-2.5",
        "1e999",
        "true",
        "null",
        "__import__('os')",
        "9" * 5000,
    ]
)
filter_expressions = st.one_of(
    st.text(max_size=60),
    st.lists(filter_words, max_size=30).map(" ".join),
    st.integers(1, 400).map(lambda n: "(" * n + "a == 1" + ")" * n),
    st.integers(1, 400).map(lambda n: "not " * n + "a"),
)


@FUZZ
@given(expression=filter_expressions, value=values)
def test_any_filter_parses_and_evaluates_or_is_a_filter_error(expression, value):
    try:
        tree = filters.parse(expression)
    except FilterError as error:
        assert error.exit_code == 2
        assert error.describe().startswith("--filter: ")
        return
    assert filters.matches(tree, lambda key: value) in (True, False)


# Through the command line: the same documents give exit code 0 or 2, never a traceback.

runner = CliRunner()


@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 4))
@given(base=st.sampled_from(sorted(BASES)), key=keys, value=values)
def test_dlrun_validate_exits_0_or_2_with_one_message(folder, base, key, value):
    document = yaml.safe_load(dump(BASES[base]))
    set_key(document, key, value)
    result = runner.invoke(app, ["validate", str(write(folder, dump(document)))])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ")


def test_the_mutations_reach_every_section_and_every_registered_kind():
    """Keys come from the schema itself, so sources and models added later are fuzzed too."""
    for key in (
        "data.path",
        "data.window",
        "model.units",
        "model.num_heads",
        "train.optimizer.learning_rate",
        "train.early_stopping.patience",
        "report.plots",
    ):
        assert key in KNOWN_KEYS
