"""The `dlrun` Typer app, and `command`: how every command is registered and run.

Only the `dlrun.cli` package prints or chooses exit codes. Imports stay light (no TensorFlow),
so `--help` and the commands that read run folders answer at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar, cast

import typer

from dlrun import __version__
from dlrun.cli import output
from dlrun.cli.boundary import error_boundary
from dlrun.cli.options import complete_run_id  # noqa: F401  (shell completion's entry point)

app = typer.Typer(
    help="Train Keras models from a YAML config; every run lands in its own folder.",
    no_args_is_help=True,
    add_completion=False,  # ours below: --install-completion / --show-completion [SHELL]
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command
)

Function = TypeVar("Function", bound=Callable[..., Any])


def _completion_classes() -> None:
    """What Typer's own completion options set up: its scripts for each shell, which the
    completion callbacks below and `_DLRUN_COMPLETE=complete_bash dlrun` use."""
    from typer.completion import completion_init

    completion_init()


_completion_classes()


def command(
    name: str | None = None, *, group: typer.Typer = app, **settings: Any
) -> Callable[[Function], Function]:
    """Register a command (on `group`, default the top-level app) that runs inside the error
    boundary: a `DlrunError` becomes its message and exit code (a JSON object as well when the
    command's `as_json` is set), Ctrl-C or SIGTERM exits 130 or 143, a bug keeps its traceback.

    So a command's body raises user errors instead of catching them; it catches one only where
    it has more to do first (a sweep stopped part-way, a gate after a saved run).
    """

    def register(function: Function) -> Function:
        signature, alias = with_json_aliases(function)

        @functools.wraps(function)
        def run(**params: Any) -> Any:
            wants_json = alias is not None and params.pop(alias) not in (None, False, "")
            with error_boundary(as_json=bool(params.get("as_json", False)) or wants_json):
                if alias == FORMAT_ALIAS and wants_json:
                    params["as_json"] = True
                elif alias == JSON_ALIAS and wants_json:
                    params["fmt"] = "json"
                return function(**params)

        run.__signature__ = signature  # type: ignore[attr-defined]
        group.command(name, **settings)(run)
        return cast(Function, run)

    return register


FORMAT_ALIAS, JSON_ALIAS = "format_alias", "json_alias"


def _json_format(value: str | None) -> str | None:
    if value not in (None, "json", "text", "table"):
        raise typer.BadParameter(f"'{value}': this command prints text (the default) or json")
    return None if value in (None, "text", "table") else value


def with_json_aliases(function: Callable[..., Any]) -> tuple[inspect.Signature, str | None]:
    """The command's signature with the other spelling of JSON output added, so `--json` and
    `--format json` both work wherever one does: `--format` (json or text) for a command with
    `--json`, `--json` for one with `--format` (table, markdown, csv, json). A command whose
    `--format` means something else (`export`) is left as it is."""
    signature = inspect.signature(function, eval_str=True)
    parameters = signature.parameters
    declared = {
        flag
        for parameter in parameters.values()
        for extra in getattr(parameter.annotation, "__metadata__", ())
        for flag in getattr(extra, "param_decls", None) or ()
    }
    if "as_json" in parameters and "--format" not in declared:
        name, annotation, default = FORMAT_ALIAS, FormatAlias, None
    elif "fmt" in parameters and "--json" not in declared and "as_json" not in parameters:
        name, annotation, default = JSON_ALIAS, JsonAlias, False
    else:
        return signature, None
    extra = inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )
    return signature.replace(parameters=[*parameters.values(), extra]), name


FormatAlias = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="json: the same as --json.",
        callback=_json_format,
        show_default=False,
    ),
]
JsonAlias = Annotated[bool, typer.Option("--json", help="The same as --format json.")]


def version_callback(value: bool) -> None:
    if value:
        output.data(f"dlrun {__version__}")
        raise typer.Exit()


SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def named_shell(flag: str, argv: list[str]) -> str | None:
    """The shell named after `flag` (`dlrun --show-completion zsh`), else None (detect it)."""
    if flag in argv:
        following = argv[argv.index(flag) + 1 : argv.index(flag) + 2]
        if following and following[0] in SHELLS:
            return following[0]
    return None


def _completion(show: bool) -> Callable[[typer.Context, Any, Any], Any]:
    """Typer's completion callback, honouring the shell named after the flag: the flag is
    eager, so Typer's own would print the current shell's script before reading `zsh`."""
    import sys

    from typer import completion

    callback = completion.show_callback if show else completion.install_callback
    flag = "--show-completion" if show else "--install-completion"

    def run(ctx: typer.Context, param: Any, value: Any) -> Any:
        if not value or ctx.resilient_parsing:
            return value
        return callback(ctx, param, named_shell(flag, sys.argv) or True)

    return run


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    install_completion: Annotated[
        bool,
        typer.Option(
            "--install-completion",
            metavar="[SHELL]",
            callback=_completion(show=False),
            is_eager=True,
            help="Install tab completion for SHELL (bash, zsh, fish or powershell; default: the "
            "current shell).",
            show_default=False,
        ),
    ] = False,
    show_completion: Annotated[
        bool,
        typer.Option(
            "--show-completion",
            metavar="[SHELL]",
            callback=_completion(show=True),
            is_eager=True,
            help="Print the completion script for SHELL (bash, zsh, fish or powershell; "
            "default: the current shell), to copy it or customize the installation.",
            show_default=False,
        ),
    ] = False,
) -> None:
    """dlrun: YAML in, trained and evaluated Keras model out."""
