"""`dlrun data prepare`: the data of a config decoded, scaled and written to the disk cache
once, before any training (what `data.cache: disk` otherwise does on first use). `dlrun data
serve`: a tf.data service dispatcher or worker, for configs with `data.service`."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from dlrun.cli import output
from dlrun.cli.app import app, command
from dlrun.cli.boundary import sigterm_interrupts
from dlrun.cli.options import ConfigArg, JsonOption, SetOption
from dlrun.core.errors import ConfigError, Interrupted

data_app = typer.Typer(
    help="The data a config trains on: its disk cache, and tf.data service servers.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@command("prepare", group=data_app)
def prepare(config: ConfigArg, set_: SetOption = None, as_json: JsonOption = False) -> None:
    """Read the config's data once and write it to the disk cache ($DLRUN_CACHE_DIR, else
    ~/.cache/dlrun), so every run of it maps binary arrays instead of parsing the files.

    Example: dlrun data prepare configs/wine_quality.yaml
    """
    from dlrun.cli.stack import malloc_arenas_limited
    from dlrun.config import load_config
    from dlrun.data import load_splits
    from dlrun.data.cache import cache_root
    from dlrun.training.environment import data_fingerprints

    malloc_arenas_limited()
    experiment = load_config(config, set_ or [])
    if "cache" not in type(experiment.data).model_fields:
        raise ConfigError(
            f"data.source {experiment.data.source} has no disk cache yet",
            expected="data.source: csv",
            fix="train it as it is: its data is read into memory",
        )
    started = time.perf_counter()
    data = experiment.data.model_copy(update={"cache": "disk"})
    with output.data_pass_bars(not as_json):
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


@command("serve", group=data_app)
def serve(
    dispatcher: Annotated[
        bool, typer.Option("--dispatcher", help="Start a dispatcher (one per service).")
    ] = False,
    worker: Annotated[
        bool, typer.Option("--worker", help="Start a worker (as many as the input needs).")
    ] = False,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on (0: any free one).")
    ] = 0,
    dispatcher_address: Annotated[
        str | None,
        typer.Option("--dispatcher-address", help="--worker: the dispatcher's HOST:PORT."),
    ] = None,
    worker_host: Annotated[
        str,
        typer.Option("--worker-host", help="--worker: the host name trainers reach it at."),
    ] = "localhost",
) -> None:
    """Run a tf.data service dispatcher or worker until Ctrl-C or SIGTERM (exit 130 or 143):
    configs with `data.service: grpc://HOST:PORT` have their training batches made by it.

    Example: dlrun data serve --dispatcher --port 5050
    """
    if dispatcher == worker:
        raise ConfigError(
            "dlrun data serve starts one server: --dispatcher or --worker",
            fix="dlrun data serve --dispatcher --port 5050, then "
            "dlrun data serve --worker --dispatcher-address localhost:5050",
        )
    if worker and not dispatcher_address:
        raise ConfigError(
            "--worker needs --dispatcher-address HOST:PORT", source="--dispatcher-address"
        )
    if dispatcher and dispatcher_address:
        raise ConfigError("--dispatcher-address is for --worker", source="--dispatcher-address")
    from dlrun.data.service import start_server

    role = "dispatcher" if dispatcher else "worker"
    server, address = start_server(role, port, dispatcher_address, worker_host)
    where = f", registered with {dispatcher_address}" if worker else ""
    output.note(f"tf.data service {role} started; stop it with Ctrl-C or SIGTERM")
    output.data(f"tf.data service {role} serving at {address}{where}", flush=True)
    try:
        with sigterm_interrupts():
            while True:
                time.sleep(1)
    except KeyboardInterrupt as interrupt:
        stopped = Interrupted.of(interrupt)
        server.stop()  # type: ignore[attr-defined]
        how = "Ctrl-C" if stopped.signal_name == "SIGINT" else stopped.signal_name
        output.note(f"tf.data service {role} stopped ({how})")
        raise typer.Exit(stopped.exit_code) from None
