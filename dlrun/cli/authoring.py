"""Commands that help write configs: init, schema. Neither imports TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.core.errors import ConfigError, DlrunError


@command()
def init(
    data: Annotated[
        Path, typer.Option("--data", help="The CSV file to learn from.", show_default=False)
    ],
    target: Annotated[
        str, typer.Option("--target", help="The column to predict.", show_default=False)
    ],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Config to write (default: <data file name>.yaml here)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run name (default: the data file's name).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a starter config for a CSV file; it trains as written.

    The task is inferred from the target column; features, split sizes and a small model
    with early stopping are chosen from the data, and commented in the file.

    Example: dlrun init --data winequality-red.csv --target quality
    """
    from dlrun.config.loader import load_config
    from dlrun.config.scaffold import starter_config
    from dlrun.core.files import safe_name, write_atomic

    target_file = out_file or Path(f"{safe_name(data.stem)}.yaml")
    if target_file.exists() and not force:
        raise ConfigError(
            f"{target_file} exists already", fix="pass --force to replace it, or --out"
        )
    starter = starter_config(data, target, target_file, name)
    text = starter.to_yaml()
    try:
        write_atomic(target_file, text)
    except OSError as error:
        raise ConfigError(f"cannot write {target_file}: {error.strerror}") from None
    try:
        load_config(target_file)
    except DlrunError as error:  # what init writes must load; if not, that is a bug to see
        raise RuntimeError(f"dlrun init wrote a config that does not load: {error}") from error
    for line in starter.header:
        output.note(line)
    output.data(f"wrote {target_file}")


@command()
def schema(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="File to write (default: print to stdout)."),
    ] = None,
) -> None:
    """Print the config's JSON Schema, for editor completion and checks.

    Save it, then start a config with the line
    `# yaml-language-server: $schema=dlrun.schema.json` (VS Code's YAML extension, and other
    editors using yaml-language-server).

    Example: dlrun schema --out dlrun.schema.json
    """
    from dlrun.config.json_schema import config_json_schema

    text = json.dumps(config_json_schema(), indent=2) + "\n"
    if out_file is None:
        output.data(text, end="")
        return
    from dlrun.core.files import write_atomic

    try:
        write_atomic(out_file, text)
    except OSError as error:
        raise DlrunError(f"cannot write {out_file}: {error.strerror}") from None
    output.note(f"wrote {out_file}")
