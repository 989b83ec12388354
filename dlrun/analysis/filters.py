"""The `--filter` language: a small expression language over run fields, metrics and config keys.

    model.type == 'cnn' and test_accuracy > 0.9
    (train.optimizer.name in ['adam', 'adamw'] or seed == 3) and not stopped_early
    status != 'failed' and started >= '2026-11-01'

Grammar (lowest precedence first; keywords are case-insensitive):

    expression := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | comparison
    comparison := operand [('==' | '!=' | '<' | '<=' | '>' | '>=') operand
                          | ['not'] 'in' list]
    operand    := literal | name | list | '(' expression ')'
    list       := '[' [literal (',' literal)* [',']] ']'  |  '(' ... ')'
    literal    := 'text' | "text" | number | true | false | null
    name       := dotted identifier (model.units.0), or `anything` in backticks

It is parsed by hand into a tree and evaluated by walking the tree; nothing is ever `eval`ed,
so a filter cannot run code. Missing values act as null: ordering comparisons with them are
false, `!=` is true. Numbers only compare with numbers, text with text (no coercion surprises).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dlrun.core.errors import DlrunError
from dlrun.core.numbers import is_number

COMPARISONS = ("==", "!=", "<=", ">=", "<", ">")
KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "none"}


class FilterError(DlrunError):
    """A filter expression that cannot be parsed, or that names nothing any run has."""


@dataclass(frozen=True)
class Token:
    kind: str  # name, string, number, op, keyword, punct, end
    text: str
    value: Any
    position: int  # 0-based offset in the expression


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<quoted_name>`[^`]*`)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\],])
    """,
    re.VERBOSE,
)

# Things people type from other languages, and what to write instead.
_HINTS = {
    "=": "use == to compare",
    "&&": "use 'and'",
    "&": "use 'and'",
    "||": "use 'or'",
    "|": "use 'or'",
    "!": "use 'not' (or != to compare)",
}


def syntax_error(expression: str, position: int, message: str) -> FilterError:
    """An error that shows the expression with a caret under the offending character."""
    pointer = " " * position + "^"
    return FilterError(
        f"--filter: syntax error at character {position + 1}: {message}\n"
        f"    {expression}\n    {pointer}",
        fix="see `dlrun compare --help` for the filter language",
    )


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            char = expression[position]
            for bad, hint in _HINTS.items():
                if expression.startswith(bad, position):
                    raise syntax_error(expression, position, f"unexpected '{bad}': {hint}")
            if char in "'\"":
                raise syntax_error(expression, position, "text opened here is never closed")
            if char == "`":
                raise syntax_error(expression, position, "name opened here is never closed")
            raise syntax_error(expression, position, f"unexpected character {char!r}")
        kind, text = match.lastgroup or "", match.group()
        if kind == "number":
            try:
                value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
            except ValueError:  # more digits than Python converts to an int (4,300)
                raise syntax_error(expression, position, "a number with too many digits") from None
            tokens.append(Token("number", text, value, position))
        elif kind == "name":
            if text.lower() in KEYWORDS:
                tokens.append(Token("keyword", text, text.lower(), position))
            else:
                tokens.append(Token("name", text, text, position))
        elif kind == "quoted_name":
            tokens.append(Token("name", text, text[1:-1], position))
        elif kind == "string":
            body = re.sub(r"\\(.)", r"\1", text[1:-1])
            tokens.append(Token("string", text, body, position))
        elif kind in ("op", "punct"):
            tokens.append(Token(kind, text, text, position))
        position = match.end()
    tokens.append(Token("end", "", None, len(expression)))
    return tokens


# The tree. Evaluation is a plain walk over these nodes.


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Name:
    key: str
    position: int


@dataclass(frozen=True)
class ListOf:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class In:
    left: Any
    items: ListOf
    negated: bool


@dataclass(frozen=True)
class And:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    part: Any


_LITERAL_KEYWORDS = {"true": True, "false": False, "null": None, "none": None}


MAX_NESTING = 50


class _Parser:
    """Recursive descent: one method per grammar rule."""

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.index = 0
        self.depth = 0  # open parentheses and 'not's: each is a Python stack frame or three

    def descend(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"more than {MAX_NESTING} nested parentheses or 'not's")

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def at(self, kind: str, *values: str) -> bool:
        token = self.current
        return token.kind == kind and (not values or token.value in values)

    def fail(self, message: str) -> FilterError:
        token = self.current
        found = "the end of the filter" if token.kind == "end" else f"'{token.text}'"
        return syntax_error(self.expression, token.position, f"{message}, found {found}")

    def parse(self) -> Any:
        if self.at("end"):
            raise self.fail("expected an expression")
        tree = self.expression_()
        if not self.at("end"):
            raise self.fail("expected 'and', 'or' or the end of the filter")
        return tree

    def expression_(self) -> Any:
        parts = [self.and_expr()]
        while self.at("keyword", "or"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Any:
        parts = [self.not_expr()]
        while self.at("keyword", "and"):
            self.advance()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_expr(self) -> Any:
        if self.at("keyword", "not"):
            self.advance()
            self.descend()
            part = self.not_expr()
            self.depth -= 1
            return Not(part)
        return self.comparison()

    def comparison(self) -> Any:
        left = self.operand()
        if self.at("op"):
            op = self.advance().value
            return Compare(op, left, self.operand())
        negated = False
        if self.at("keyword", "not") and self.tokens[self.index + 1].value == "in":
            self.advance()
            negated = True
        if self.at("keyword", "in"):
            self.advance()
            if not (self.at("punct", "[") or self.at("punct", "(")):
                raise self.fail("expected a list like ['a', 'b'] after 'in'")
            return In(left, self.list_(), negated)
        return left

    def operand(self) -> Any:
        token = self.current
        if token.kind in ("number", "string"):
            self.advance()
            return Literal(token.value)
        if token.kind == "keyword" and token.value in _LITERAL_KEYWORDS:
            self.advance()
            return Literal(_LITERAL_KEYWORDS[token.value])
        if token.kind == "name":
            self.advance()
            return Name(token.value, token.position)
        if self.at("punct", "["):
            return self.list_()
        if self.at("punct", "("):
            self.advance()
            self.descend()
            inner = self.expression_()
            if not self.at("punct", ")"):
                raise self.fail("expected ')'")
            self.advance()
            self.depth -= 1
            return inner
        raise self.fail(
            "expected a value (a name, a number, 'text', true, false, null or a [list])"
        )

    def list_(self) -> ListOf:
        closing = "]" if self.advance().value == "[" else ")"
        items: list[Any] = []
        while not self.at("punct", closing):
            token = self.current
            if token.kind in ("number", "string"):
                items.append(self.advance().value)
            elif token.kind == "keyword" and token.value in _LITERAL_KEYWORDS:
                items.append(_LITERAL_KEYWORDS[self.advance().value])
            else:
                raise self.fail(
                    f"expected a number, 'text', true, false or null in the list, or '{closing}'"
                )
            if self.at("punct", ","):
                self.advance()
            elif not self.at("punct", closing):
                raise self.fail(f"expected ',' or '{closing}'")
        self.advance()
        return ListOf(tuple(items))


def parse(expression: str) -> Any:
    """The expression's tree; `FilterError` (with the position) when it is not well formed."""
    return _Parser(expression).parse()


def names_in(tree: Any) -> list[Name]:
    """Every name the expression refers to (to check them against the runs once, up front)."""
    if isinstance(tree, Name):
        return [tree]
    if isinstance(tree, Compare):
        return names_in(tree.left) + names_in(tree.right)
    if isinstance(tree, In):
        return names_in(tree.left)
    if isinstance(tree, (And, Or)):
        return [name for part in tree.parts for name in names_in(part)]
    if isinstance(tree, Not):
        return names_in(tree.part)
    return []


def equal(left: Any, right: Any) -> bool:
    """Equality without Python's cross-type surprises (True == 1, 1 == '1' is False anyway)."""
    if is_number(left) and is_number(right):
        return left == right
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(map(equal, left, right))
    if type(left) is not type(right) and not (left is None or right is None):
        return False
    return left == right


def _ordered(op: str, left: Any, right: Any) -> bool:
    comparable = (is_number(left) and is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not comparable:
        return False
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def evaluate(tree: Any, lookup: Callable[[str], Any], missing: Any = None) -> Any:
    """The value of `tree` for one run; `lookup(key)` returns the run's value or `missing`."""
    if isinstance(tree, Literal):
        return tree.value
    if isinstance(tree, Name):
        value = lookup(tree.key)
        return None if value is missing else value
    if isinstance(tree, ListOf):
        return list(tree.items)
    if isinstance(tree, Compare):
        left, right = evaluate(tree.left, lookup, missing), evaluate(tree.right, lookup, missing)
        if tree.op == "==":
            return equal(left, right)
        if tree.op == "!=":
            return not equal(left, right)
        return _ordered(tree.op, left, right)
    if isinstance(tree, In):
        value = evaluate(tree.left, lookup, missing)
        found = any(equal(value, item) for item in tree.items.items)
        return found != tree.negated
    if isinstance(tree, And):
        return all(_truthy(evaluate(part, lookup, missing)) for part in tree.parts)
    if isinstance(tree, Or):
        return any(_truthy(evaluate(part, lookup, missing)) for part in tree.parts)
    if isinstance(tree, Not):
        return not _truthy(evaluate(tree.part, lookup, missing))
    raise TypeError(f"not a filter node: {tree!r}")


def _truthy(value: Any) -> bool:
    return bool(value)


def matches(tree: Any, lookup: Callable[[str], Any], missing: Any = None) -> bool:
    """Whether one run passes the filter."""
    return _truthy(evaluate(tree, lookup, missing))
