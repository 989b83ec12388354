"""Every command README.md shows is run, in order, as a user would run it from a clone.

`tests/test_docs_commands.py` parses every `dlrun ...` line of the docs; this runs README.md's
commands: each line of its ```bash blocks, the `$ ` lines of its ```console blocks and the
commands quoted inline in its prose (`pip install -e ".[tensorboard]"`, `ruff check .`, ...),
in the order they appear, each in a bash shell whose working folder is one fresh copy of the
project that the commands share in turn (its git-tracked and untracked-but-not-ignored files: a
clone with the work in progress; the copy's dlrun is the one imported), with a home folder of
its own and no `DLRUN_*` variables. A command must exit 0 (or its listed code); a console
block's shown header line must be the real one.

Run differently, each with its reason (`PIP`, `HOW`), or not at all (`SKIPS`), are only
those that cannot run here; each skipped one is still checked some other way, and a skip that
README.md no longer needs fails the test. Any other command README.md gains is run as written.
The commands table's synopses (`dlrun train CONFIG`) are not commands: their command words
must name real commands.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_docs_commands import FENCE, command_lines, defined_extras, live_commands

README = ROOT / "README.md"
COMMAND_WORDS = {"dlrun", "python", "python3", "pip", "mkdocs", "ruff", "bash", "git", "make"}
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PIP_EXTRA = re.compile(
    r"""^pip install (?P<target>["']?(?P<name>[\w.-]+)\[(?P<extras>[^\]]+)\]["']?)$"""
)


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    kind: str  # "bash", "console" (a code block's), "inline" (in prose) or "synopsis"
    shown: tuple[str, ...] = ()  # a console command's output lines, as the page shows them
    paragraph: str = ""  # the prose around an inline command

    @property
    def where(self) -> str:
        return f"README.md:{self.line}"


def is_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0] in COMMAND_WORDS


def paragraphs(text: str) -> Iterator[tuple[int, str]]:
    """(first line, text) of each paragraph outside the code blocks."""
    lines = FENCE.sub(lambda block: "\n" * block.group(0).count("\n"), text).split("\n")
    start = None
    for index, line in enumerate([*lines, ""]):
        if line.strip() and start is None:
            start = index
        elif not line.strip() and start is not None:
            yield start + 1, "\n".join(lines[start:index])
            start = None


def readme_commands(text: str) -> list[Command]:
    """Every command of the page, in page order."""
    found: list[Command] = []
    for block in FENCE.finditer(text):
        if block["lang"] not in ("bash", "console"):
            continue
        first = text.count("\n", 0, block.start("body")) + 1
        body = block["body"].splitlines()
        for number, line in command_lines(block.group(0)):
            index = number - 2  # the command's line in the body (line 1 is the fence)
            shown: tuple[str, ...] = ()
            if block["lang"] == "console":  # its output: the lines up to the next prompt
                rest = body[index + 1 :]
                shown = tuple(rest[: _next_prompt(rest)])
            found.append(Command(first + index, line.strip(), block["lang"], shown))
    for start, paragraph in paragraphs(text):
        for offset, row in enumerate(paragraph.splitlines()):
            for span in INLINE.finditer(row):
                if is_command(span[1]):
                    kind = "synopsis" if row.lstrip().startswith("|") else "inline"
                    found.append(Command(start + offset, span[1], kind, (), paragraph))
    return sorted(found, key=lambda command: command.line)


def _next_prompt(lines: list[str]) -> int:
    return next((i for i, line in enumerate(lines) if line.startswith("$ ")), len(lines))


# How the commands that cannot run here as written are run or checked instead


def project_defines(extras: str) -> list[str]:
    missing = [e.strip() for e in extras.split(",") if e.strip() not in defined_extras()]
    return [f"pyproject.toml has no extra {', '.join(missing)}"] if missing else []


def published_dlrun(command: Command) -> list[str]:
    """`pip install "dlrun[x]"` is only right where the page says it is for a published
    package: from a clone pip finds no dlrun to install (issue 17's stale README line)."""
    match = PIP_EXTRA.match(command.text)
    assert match, command.text
    problems = project_defines(match["extras"])
    if "published" not in command.paragraph:
        problems.append("shown as the way to install from a clone, where it fails (no index)")
    return problems


def tensorflow_extra(command: Command) -> list[str]:
    match = PIP_EXTRA.match(command.text)
    assert match, command.text
    provided = metadata(match["name"]).get_all("Provides-Extra") or []
    return (
        [] if match["extras"] in provided else [f"{match['name']} has no extra {match['extras']}"]
    )


@dataclass(frozen=True)
class Skip:
    reason: str
    check: Callable[[Command], list[str]] | None = None


SKIPS: dict[str, Skip] = {
    "python -m pytest": Skip("the whole suite, run from inside the suite, would run itself"),
    "bash .ci/run": Skip(
        "CI on a fresh clone: a new venv, the full install (network), the whole suite; its "
        "steps are README.md's install, lint, docs and test commands, each run or checked here"
    ),
    "mkdocs serve": Skip(
        "a server that runs until stopped; `mkdocs build --strict` builds the same site here"
    ),
    'pip install "tensorflow[and-cuda]"': Skip(
        "downloads the CUDA libraries (gigabytes) for a GPU; checked: the installed "
        "tensorflow declares the and-cuda extra",
        tensorflow_extra,
    ),
    'pip install "dlrun[tensorboard]"': Skip(
        "for a published package, and dlrun is on no index; checked: pyproject.toml defines "
        "the extra, and the page says the command is for a published package",
        published_dlrun,
    ),
}

PIP = ["--dry-run", "--no-deps", "--no-index", "--no-build-isolation", "--ignore-installed"]
"""`pip install ...` runs with these: installing for real would change the environment the
other tests run in. pip's dry run still builds the project's metadata from the copy and fails
on what a user's install would fail on (a requirement no index here has, like `dlrun[x]`)."""


def runnable(command: Command) -> str:
    """The shell text that runs the command here."""
    if command.text.startswith("pip install "):
        return "pip install " + " ".join(PIP) + command.text.removeprefix("pip install")
    return command.text


# Running them


IGNORED = shutil.ignore_patterns(".git", ".venv", "outputs", "site", "*.egg-info", "__pycache__")


def project_copy(target: Path) -> Path:
    """The project's files as a clone (plus work in progress) has them, without .venv or
    outputs: those `git ls-files` names, or (no git) the folder without what git ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        shutil.copytree(ROOT, target, ignore=IGNORED, dirs_exist_ok=True)
        return target
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def user_env(home: Path, clone: Path) -> dict[str, str]:
    """A user's shell after `pip install -e .` in the clone: this environment's dlrun, pip,
    ruff and mkdocs first on PATH, importing the clone's dlrun (PYTHONPATH comes before the
    editable install's finder), a home folder of its own and no DLRUN_/MLFLOW_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLRUN_", "MLFLOW_"))}
    env.update(
        HOME=str(home),
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        PYTHONPATH=str(clone),
        SHELL="/bin/bash",
        COLUMNS="120",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def shell(text: str, cwd: Path, env: dict[str, str]) -> Done:
    """The text run by bash, which stays the command's parent (bash would exec a lone command;
    `dlrun --install-completion` finds the user's shell among its parents)."""
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", f"{text}\nexit $?"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


Done = subprocess.CompletedProcess[str]


def same_as_dlrun(command: Command, done: Done, cwd: Path, env: dict[str, str]) -> list[str]:
    """`python -m dlrun` "is the same command as `dlrun`": the same exit code and output."""
    plain = shell("dlrun", cwd, env)
    ours = (done.returncode, (done.stdout + done.stderr).replace("python -m dlrun", "dlrun"))
    theirs = (plain.returncode, plain.stdout + plain.stderr)
    if ours != theirs:
        diff = difflib.unified_diff(theirs[1].splitlines(), ours[1].splitlines(), lineterm="")
        return [f"does not do what `dlrun` does (exit {ours[0]}, not {theirs[0]}):", *diff]
    return []


def completion_installed(command: Command, done: Done, cwd: Path, env: dict[str, str]) -> list[str]:
    """`dlrun --install-completion` wrote bash's completion script into the (temp) home."""
    home = Path(env["HOME"])
    script = home / ".bash_completions" / "dlrun.sh"
    sourced = (home / ".bashrc").is_file() and "dlrun.sh" in (home / ".bashrc").read_text()
    return [] if script.is_file() and sourced else [f"wrote no completion script ({script})"]


def prints_its_run_folder(
    command: Command, done: Done, cwd: Path, env: dict[str, str]
) -> list[str]:
    """`dlrun train` "prints where its run folder is", a complete one (metrics.json)."""
    said = done.stdout + done.stderr
    folders = [m.parent for m in (cwd / "outputs").glob("*/metrics.json") if m.parent.name in said]
    return [] if folders else ["printed no run folder holding metrics.json under outputs/"]


Check = Callable[[Command, Done, Path, dict[str, str]], list[str]]
HOW: dict[str, tuple[int, Check | None]] = {
    # The exit code a command is run for, and what else it must have done.
    "dlrun train configs/wine_quality.yaml": (0, prints_its_run_folder),
    "dlrun --install-completion": (0, completion_installed),
    # Without a command, dlrun prints its usage and exits 2 (click's usage error).
    "dlrun": (2, None),
    "python -m dlrun": (2, same_as_dlrun),
}


def header_words(lines: tuple[str, ...] | list[str]) -> list[str]:
    return lines[0].split() if lines else []


def run_command(command: Command, cwd: Path, env: dict[str, str]) -> list[str]:
    """What is wrong with the command, run in `cwd` ([] when it did what README.md says)."""
    skip = SKIPS.get(command.text)
    if skip is not None:
        return skip.check(command) if skip.check else []
    if command.kind == "synopsis":
        words = [w for w in shlex.split(command.text)[1:] if re.fullmatch(r"[a-z][a-z-]*", w)]
        commands = set(live_commands())
        while words and tuple(words) not in commands:
            words.pop()
        return [] if words else ["names no dlrun command"]
    done = shell(runnable(command), cwd, env)
    expected, check = HOW.get(command.text, (0, None))
    problems = []
    if done.returncode != expected:
        tail = "\n    ".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        problems.append(f"exited {done.returncode}, not {expected}:\n    {tail}")
    if check is not None:
        problems += check(command, done, cwd, env)
    match = PIP_EXTRA.match(command.text.replace(" -e ", " ", 1))
    if match and match["name"] == ".":
        problems += project_defines(match["extras"])
    if command.shown and header_words(command.shown) != header_words(done.stdout.splitlines()):
        real = done.stdout.splitlines()[:1]
        problems.append(f"prints {real}, the page shows {list(command.shown[:1])}")
    return problems


def run_all(commands: list[Command], cwd: Path, env: dict[str, str]) -> list[str]:
    problems = []
    for command in commands:
        problems += [
            f"{command.where}: `{command.text}` {p}" for p in run_command(command, cwd, env)
        ]
    return problems


@pytest.fixture
def user_folder(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    clone = tmp_path / "dlrun"
    clone.mkdir()
    return project_copy(clone), user_env(home, clone)


# The tests


def test_the_readme_commands_are_found():
    commands = readme_commands(README.read_text(encoding="utf-8"))
    texts = [c.text for c in commands if c.kind != "synopsis"]
    for expected in (
        'pip install -e ".[dev]"',
        "dlrun train configs/wine_quality.yaml",
        "dlrun runs --last 5",
        'pip install -e ".[tensorboard]"',
        'pip install "dlrun[tensorboard]"',
        "ruff check .",
        "python -m pytest",
    ):
        assert expected in texts
    # The install comes before the training, as a user runs them.
    assert texts.index('pip install -e ".[dev]"') < texts.index(
        "dlrun train configs/wine_quality.yaml"
    )
    [runs] = [c for c in commands if c.text == "dlrun runs --last 5"]
    assert header_words(runs.shown)[:3] == ["id", "name", "status"]
    assert sum(c.kind == "synopsis" for c in commands) > 15


def test_every_skip_is_still_a_readme_command():
    texts = {c.text for c in readme_commands(README.read_text(encoding="utf-8"))}
    assert not set(SKIPS) - texts, "skips README.md no longer needs: remove them"
    assert not set(HOW) - texts


@pytest.mark.slow
def test_every_readme_command_runs(user_folder):
    clone, env = user_folder
    commands = readme_commands(README.read_text(encoding="utf-8"))
    problems = run_all(commands, clone, env)
    assert not problems, "\n".join(problems)


STALE = """## Install

```bash
pip install -e ".[dev]"
dlrun trian configs/wine_quality.yaml
```

`pip install "dlrun[tensorboard]"` adds TensorBoard, for `report.tensorboard: true`.
`pip install -e ".[tensorbord]"` too.
"""


def test_a_broken_command_fails_the_check(user_folder):
    """The stale lines issue 17 found, and a typo: each fails, with its README line."""
    clone, env = user_folder
    commands = readme_commands(STALE)
    assert [c.text for c in commands][1:] == [
        "dlrun trian configs/wine_quality.yaml",
        'pip install "dlrun[tensorboard]"',
        'pip install -e ".[tensorbord]"',
    ]
    problems = run_all(commands, clone, env)
    assert len(problems) == 3, "\n".join(problems)
    assert problems[0].startswith("README.md:5: `dlrun trian configs/wine_quality.yaml` exited 2")
    assert "No such command 'trian'" in problems[0] or "trian" in problems[0]
    assert problems[1].startswith('README.md:8: `pip install "dlrun[tensorboard]"` shown as')
    assert problems[2].startswith('README.md:9: `pip install -e ".[tensorbord]"` pyproject.toml')


def test_pip_runs_offline_and_fails_on_what_a_user_would(user_folder):
    """From a clone, pip finds no `dlrun` on an index: without the page saying it is for a
    published package, the dry run fails as a user's install would."""
    clone, env = user_folder
    done = shell(runnable(Command(1, 'pip install "dlrun[tensorboard]"', "block")), clone, env)
    assert done.returncode != 0 and "dlrun" in done.stderr
    done = shell(runnable(Command(1, 'pip install -e ".[tensorboard]"', "block")), clone, env)
    assert done.returncode == 0, done.stderr
    assert "Would install dlrun" in done.stdout
