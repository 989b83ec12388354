"""Commands that help write configs: init, schema. Neither imports TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dlrun.cli.app import app, err, fail, guarded, out


@app.command()
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
    from dlrun.core.errors import ConfigError
    from dlrun.core.files import safe_name, write_atomic

    target_file = out_file or Path(f"{safe_name(data.stem)}.yaml")
    if target_file.exists() and not force:
        fail(
            ConfigError(
                f"{target_file} exists already", fix="pass --force to replace it, or --out"
            ),
            False,
        )
    starter = guarded(lambda: starter_config(data, target, target_file, name), False)
    text = starter.to_yaml()
    try:
        write_atomic(target_file, text)
    except OSError as error:
        fail(ConfigError(f"cannot write {target_file}: {error.strerror}"), False)
    load_config(target_file)  # what init writes must load; if not, that is a bug to see
    for line in starter.header:
        err.print(line, markup=False, soft_wrap=True)
    out.print(f"wrote {target_file}", markup=False, soft_wrap=True)


@app.command()
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
        print(text, end="")
        return
    from dlrun.core.errors import DlrunError
    from dlrun.core.files import write_atomic

    try:
        write_atomic(out_file, text)
    except OSError as error:
        fail(DlrunError(f"cannot write {out_file}: {error.strerror}"), False)
    err.print(f"wrote {out_file}", markup=False, soft_wrap=True)
