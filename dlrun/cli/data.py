"""`dlrun data prepare`: the data of a config decoded, scaled and written to the disk cache
once, before any training (what `data.cache: disk` otherwise does on first use)."""

from __future__ import annotations

import time

import typer

from dlrun.cli import output
from dlrun.cli.app import app, command
from dlrun.cli.options import ConfigArg, JsonOption, SetOption
from dlrun.core.errors import ConfigError

data_app = typer.Typer(help="The data a config trains on: its disk cache.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@command("prepare", group=data_app)
def prepare(config: ConfigArg, set_: SetOption = None, as_json: JsonOption = False) -> None:
    """Read the config's data once and write it to the disk cache ($DLRUN_CACHE_DIR, else
    ~/.cache/dlrun), so every run of it maps binary arrays instead of parsing the files.

    Example: dlrun data prepare configs/wine_quality.yaml
    """
    from dlrun.config import load_config
    from dlrun.data import load_splits
    from dlrun.data.cache import cache_root
    from dlrun.training.environment import data_fingerprints

    experiment = load_config(config, set_ or [])
    if "cache" not in type(experiment.data).model_fields:
        raise ConfigError(
            f"data.source {experiment.data.source} has no disk cache yet",
            expected="data.source: csv",
            fix="train it as it is: its data is read into memory",
        )
    started = time.perf_counter()
    data = experiment.data.model_copy(update={"cache": "disk"})
    splits = load_splits(data, experiment.seed)
    seconds = time.perf_counter() - started
    record = {
        "cache_dir": str(cache_root()),
        "sizes": splits.sizes(),
        "data_fingerprint": data_fingerprints(splits)["data"],
        "seconds": round(seconds, 3),
    }
    if as_json:
        output.json_line(record)
        return
    sizes = ", ".join(f"{count} {name}" for name, count in record["sizes"].items())
    output.note(f"cached {sizes} examples in {seconds:.1f} s")
    output.data(f"cache: {record['cache_dir']}")
