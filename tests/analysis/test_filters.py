"""The --filter language: what each expression keeps, and how a bad one is reported."""

from __future__ import annotations

import pytest

from dlrun.analysis.filters import FilterError, matches, names_in, parse
from dlrun.core.errors import DlrunError

MISSING = object()

RUN = {
    "model.type": "cnn",
    "model.units": [512, 256],
    "train.optimizer.name": "adam",
    "train.optimizer.learning_rate": 0.001,
    "test_accuracy": 0.93,
    "seed": 3,
    "status": "completed",
    "stopped_early": True,
    "started": "2026-11-20T09:00:00+00:00",
    "data.limit": None,
}


def keep(expression: str, run: dict | None = None) -> bool:
    values = RUN if run is None else run
    return matches(parse(expression), lambda key: values.get(key, MISSING), MISSING)


@pytest.mark.parametrize(
    "expression",
    [
        "model.type == 'cnn' and test_accuracy > 0.9",
        'model.type == "cnn"',
        "test_accuracy >= 0.93 and test_accuracy <= 0.93",
        "seed != 4",
        "seed in [1, 2, 3]",
        "train.optimizer.name in ('adam', 'adamw')",
        "model.type not in ['mlp']",
        "model.type == 'mlp' or seed == 3",
        "not (model.type == 'mlp')",
        "not model.type == 'mlp'",
        "(seed == 1 or seed == 3) and status == 'completed'",
        "train.optimizer.learning_rate < 1e-2",
        "train.optimizer.learning_rate == 0.001",
        "model.units == [512, 256]",
        "stopped_early",
        "stopped_early == true",
        "data.limit == null",
        "nonexistent == null",
        "nonexistent != 'x'",
        "started >= '2026-11-01'",
        "model.type == 'cnn' AND NOT False",  # keywords are case-insensitive, names are not
        "seed > -1",
    ],
)
def test_expressions_that_keep_the_run(expression):
    assert keep(expression), expression


@pytest.mark.parametrize(
    "expression",
    [
        "model.type == 'mlp'",
        "test_accuracy > 0.95",
        "seed in [1, 2]",
        "model.type in ['cnn'] and seed == 4",
        "not stopped_early",
        "nonexistent > 0",  # ordering with a missing value is false, never an error
        "seed == '3'",  # numbers never equal text
        "seed > 'a'",
        "stopped_early == 1",  # booleans are not numbers
        "model.units == [512]",
        "MODEL.TYPE == 'cnn'",
    ],
)
def test_expressions_that_drop_the_run(expression):
    assert not keep(expression), expression


def test_and_binds_tighter_than_or():
    # a or (b and c): true through `a` alone.
    assert keep("seed == 3 or model.type == 'mlp' and seed == 99")
    assert not keep("(seed == 3 or model.type == 'mlp') and seed == 99")


def test_names_are_collected_for_checking_against_the_runs():
    tree = parse("a.b == 1 and (c > 2 or not d in [1]) or `odd-name` == 'x'")
    assert [name.key for name in names_in(tree)] == ["a.b", "c", "d", "odd-name"]


@pytest.mark.parametrize(
    ("expression", "column", "fragment"),
    [
        ("test_accuracy > ", 17, "expected a value"),
        ("test_accuracy > 0.9 and", 24, "expected a value"),
        ("model.type = 'cnn'", 12, "use == to compare"),
        ("a == 1 && b == 2", 8, "use 'and'"),
        ("a == 1 || b == 2", 8, "use 'or'"),
        ("model.type == 'cnn", 15, "never closed"),
        ("(a == 1", 8, "expected ')'"),
        ("a in 1", 6, "expected a list"),
        ("a in [1, b]", 10, "in the list"),
        ("a == 1 b == 2", 8, "expected 'and', 'or' or the end"),
        ("", 1, "expected an expression"),
        ("a == 1; import os", 7, "unexpected character ';'"),
    ],
)
def test_syntax_errors_point_at_the_character(expression, column, fragment):
    with pytest.raises(FilterError) as caught:
        parse(expression)
    message = str(caught.value)
    assert f"at character {column}:" in message
    assert fragment in message
    # The caret line sits under the offending character.
    lines = message.splitlines()
    expression_line = next(i for i, line in enumerate(lines) if line == f"    {expression}")
    assert lines[expression_line + 1].index("^") == 4 + column - 1
    assert isinstance(caught.value, DlrunError) and caught.value.exit_code == 2


def test_nothing_is_ever_evaluated_as_python():
    # Function calls are not in the grammar: the parser rejects them before anything runs.
    with pytest.raises(FilterError):
        parse("__import__('os').system('echo hacked') == 0")
