"""Every command the docs show runs as written: each `dlrun ...` line in a ```bash or
```console block of README.md and docs/ names a real command and only options it accepts, and
every `pip install -e ".[extra]"` names an extra pyproject.toml defines.

The lines are checked against the live command line (the click command behind the installed
`dlrun` script) without running anything: no training, no TensorFlow.
"""

from __future__ import annotations

import difflib
import functools
import re
import shlex
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.M | re.S)
EXTRA = re.compile(r"""pip install -e ["']?\.\[(?P<extras>[^\]]*)\]""")
SEPARATORS = {"|", "||", "&&", ";", "&", "(", ")"}
NUMBER = re.compile(r"^-\d")
PYTHON_M = ["-m", "dlrun"]


@functools.cache
def live_app() -> Any:
    """What the installed `dlrun` script runs (its console-script entry point), wherever the
    package keeps it."""
    entry = next(iter(entry_points(group="console_scripts", name="dlrun")))
    return entry.load()


@functools.cache
def live_cli() -> Any:
    """The click command of the live app: `.commands` for groups, `.params` for options."""
    app = live_app()
    if hasattr(app, "params"):
        return app
    import typer.main

    return typer.main.get_command(app)


def live_commands(group: Any = None, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command's words, groups and their subcommands included: ('baseline', 'save')."""
    group = live_cli() if group is None else group
    for name, command in group.commands.items():
        if getattr(command, "hidden", False):
            continue
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from live_commands(command, (*prefix, name))


# Finding the command lines


def command_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, command) for every command of the bash and console code blocks: a bash
    block's every line, a console block's `$ ` lines; continuation lines joined."""
    for block in FENCE.finditer(text):
        if block["lang"] not in ("bash", "console"):
            continue
        first = text.count("\n", 0, block.start("body")) + 1
        joined: list[tuple[int, str]] = []
        pending: tuple[int, str] | None = None
        for offset, line in enumerate(block["body"].splitlines()):
            if pending is not None:
                pending = (pending[0], pending[1] + " " + line.strip())
            else:
                pending = (first + offset, line)
            if pending[1].endswith("\\"):
                pending = (pending[0], pending[1][:-1])
                continue
            joined.append(pending)
            pending = None
        if pending is not None:
            joined.append(pending)
        for number, line in joined:
            if block["lang"] == "console":
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, line


def without_substitutions(line: str) -> str:
    """`$(...)` replaced by a plain word: what it prints is an argument, not options."""
    out, depth, i = [], 0, 0
    while i < len(line):
        if line.startswith("$(", i):
            depth += 1
            i += 2
            if depth == 1:
                out.append("SUBSTITUTED")
            continue
        if depth and line[i] == "(":
            depth += 1
        elif depth and line[i] == ")":
            depth -= 1
        elif not depth:
            out.append(line[i])
        i += 1
    return "".join(out)


def dlrun_invocations(line: str) -> Iterator[list[str]]:
    """The arguments of each `dlrun` (or `python -m dlrun`) a shell line runs, through pipes,
    `&&`, environment assignments and `bash -c '...'`."""
    lexer = shlex.shlex(without_substitutions(line), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segment: list[str] = []
    for token in [*lexer, ";"]:
        if token not in SEPARATORS:
            segment.append(token)
            continue
        words = segment
        segment = []
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
            words = words[1:]  # VAR=value before the command
        if words[:1] == ["dlrun"]:
            yield words[1:]
        elif re.match(r"^python[\d.]*$", words[0] if words else "") and words[1:3] == PYTHON_M:
            yield words[3:]
        for shell, flag, script in zip(words, words[1:], words[2:], strict=False):
            if shell in ("bash", "sh") and flag == "-c":
                yield from dlrun_invocations(script)


# Checking them against the live command line


def option_table(command: Any) -> dict[str, bool]:
    """Every option name a command accepts, and whether it takes a value."""
    names = {"--help": False}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
        names.update(dict.fromkeys(param.opts, takes_value))
        names.update(dict.fromkeys(param.secondary_opts, False))
    return names


def check_arguments(words: list[str], command: Any = None, path: tuple[str, ...] = ()) -> list[str]:
    """What is wrong with `dlrun WORDS`: an unknown command, an unknown option, or an option
    without its value ([] when click would accept the words)."""
    command = live_cli() if command is None else command
    shown = " ".join(["dlrun", *path])
    options = option_table(command)
    problems: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            break  # the rest are arguments
        if word.startswith("-") and word != "-" and not NUMBER.match(word):
            if word.startswith("--"):
                name, attached = word.split("=", 1)[0], "=" in word
            else:
                name, attached = word[:2], len(word) > 2
            if name not in options:
                close = difflib.get_close_matches(name, list(options), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                problems.append(f"`{shown}` has no option {name}{hint}")
            elif options[name] and not attached:
                if i + 1 >= len(words):
                    problems.append(f"`{shown}` option {name} needs a value")
                i += 1  # its value
        elif hasattr(command, "commands"):
            sub = command.commands.get(word)
            if sub is None:
                close = difflib.get_close_matches(word, list(command.commands), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                return [*problems, f"`{shown}` has no command '{word}'{hint}"]
            return problems + check_arguments(words[i + 1 :], sub, (*path, word))
        i += 1
    return problems


def defined_extras() -> set[str]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return set(project.get("optional-dependencies", {}))


def problems_in(text: str, source: str) -> list[str]:
    """Every problem of one page's commands and install lines, each with its file and line."""
    problems = []
    for number, line in command_lines(text):
        for words in dlrun_invocations(line):
            problems += [f"{source}:{number}: {p}: {line.strip()}" for p in check_arguments(words)]
    extras = defined_extras()
    for match in EXTRA.finditer(text):
        number = text.count("\n", 0, match.start()) + 1
        for extra in (e.strip() for e in match["extras"].split(",")):
            if extra not in extras:
                problems.append(
                    f"{source}:{number}: pyproject.toml has no extra '{extra}' "
                    f"(it has: {', '.join(sorted(extras))})"
                )
    return problems


def page_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_documented_command_line_is_accepted_by_the_cli():
    problems = []
    for page in PAGES:
        problems += problems_in(page_text(page), str(page.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


def test_the_pages_show_commands_to_check():
    """The parsing finds the command lines (a broken parser would pass everything)."""
    found = [
        words
        for page in PAGES
        for _, line in command_lines(page_text(page))
        for words in dlrun_invocations(line)
    ]
    assert len(found) > 40
    commands = {words[0] for words in found if words}
    assert {"train", "sweep", "compare", "check", "baseline", "predict"} <= commands
    readme = page_text(ROOT / "README.md")
    assert 'pip install -e ".[dev]"' in readme and 'pip install -e ".[tensorboard]"' in readme


def test_a_misspelled_option_fails():
    page = "```bash\ndlrun train configs/wine_quality.yaml --epocs 3 --set train.epochs=3\n```\n"
    [problem] = problems_in(page, "page.md")
    assert problem.startswith("page.md:2: `dlrun train` has no option --epocs")


def test_unknown_commands_short_options_and_extras_fail():
    page = """Text.

```console
$ dlrun trian configs/wine_quality.yaml
$ dlrun baseline save run out.json -x
$ dlrun compare --sort=-test_r2 --last 5 -f json \\
    --filtr "seed == 1"
output line --not-checked
```

```bash
srun bash -c 'dlrun train job.yaml --worker-index 0 \\
    --workerz $(scontrol show hostnames | paste -sd,)'
pip install -e ".[dev,tensorbord]"
```
"""
    problems = problems_in(page, "page.md")
    assert [p.split(": ", 1)[1].split(":")[0] for p in problems] == [
        "`dlrun` has no command 'trian' (did you mean train?)",
        "`dlrun baseline save` has no option -x",
        "`dlrun compare` has no option --filtr (did you mean --filter?)",
        "`dlrun train` has no option --workerz (did you mean --workers?)",
        "pyproject.toml has no extra 'tensorbord' (it has",
    ]
    assert problems[0].startswith("page.md:4:") and problems[2].startswith("page.md:6:")


def test_correct_lines_pass():
    page = """```bash
DLRUN_DATA_DIR=~/data dlrun train configs/fashion_mnist_mlp.yaml -s train.epochs=2 -q
python -m dlrun compare outputs --sort -test_r2 --metrics 'test_*' -n 3
dlrun predict 7f3e08 new.csv --out - && dlrun --help
dlrun baseline save RUN FILE --metric 'test_*'
```
"""
    assert problems_in(page, "page.md") == []
