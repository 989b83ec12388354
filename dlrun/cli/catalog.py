"""Commands that list what can be named in a config: models, sources (plugins included).
Neither imports TensorFlow: builders import Keras only when they build."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from dlrun.analysis.grid import Grid
from dlrun.cli import output
from dlrun.cli.app import command
from dlrun.cli.options import JsonOption
from dlrun.core.registry import Entry, Registry

NameArgument = Annotated[
    str | None,
    typer.Argument(help="Show this one's params in full.", show_default=False),
]


def _listing(registry: Registry, name: str | None, as_json: bool) -> None:
    entries = [registry.get(name)] if name else registry.entries()
    if as_json:
        output.json_line([_as_record(entry) for entry in entries], default=str)
    elif name:
        output.grid(_params_grid(entries[0]), clip=False)
    else:
        output.grid(_entries_grid(entries))


def _as_record(entry: Entry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "summary": entry.summary,
        "params": [dataclasses.asdict(field) for field in entry.param_fields()],
    }


def _entries_grid(entries: list[Entry]) -> Grid:
    rows = [[entry.name, entry.summary, _params_text(entry)] for entry in entries]
    return Grid(["name", "summary", "params"], rows)


def _params_text(entry: Entry) -> str:
    return ", ".join(
        field.name if field.required else f"{field.name}={output.safe(field.default)}"
        for field in entry.param_fields()
    )


def _params_grid(entry: Entry) -> Grid:
    rows = [
        [
            field.name,
            field.type,
            "(required)" if field.required else field.default,
            field.description,
        ]
        for field in entry.param_fields()
    ]
    return Grid(
        ["param", "type", "default", "meaning"], rows, title=f"{entry.name}: {entry.summary}"
    )


@command()
def models(name: NameArgument = None, as_json: JsonOption = False) -> None:
    """List the model types a config can name (`model.type`), with their params; plugins
    installed through the `dlrun.models` entry point included.

    Example: dlrun models mlp
    """
    import dlrun.models  # noqa: F401  (registers dlrun's own)
    from dlrun.models.registry import models as registered

    _listing(registered, name, as_json)


@command()
def sources(name: NameArgument = None, as_json: JsonOption = False) -> None:
    """List the data sources a config can name (`data.source`), with their params; plugins
    installed through the `dlrun.data_sources` entry point included.

    Example: dlrun sources csv
    """
    import dlrun.data  # noqa: F401  (registers dlrun's own)
    from dlrun.data.registry import sources as registered

    _listing(registered, name, as_json)
