"""The `dlrun` command line. Importing this package registers every command on `app`.

Command modules (training, sweep, tune, use, authoring, catalog, data, runs, ci, mlflow) each
register commands with `app.command`'s wrapper `dlrun.cli.app.command`, which runs the command
inside the one error boundary (`boundary`). They import only the shared modules, never each
other: `app`, `options` (arguments and options), `output` (the only place that prints; user
text made safe for the terminal), `render` (result tables), `results` (CI outputs and gates),
`stack` (loading TensorFlow), `launch` (what and where `train` trains) and `boundary`.
"""

# isort: off
# Registration order is the order of `dlrun --help`: training commands first.
from dlrun.cli import training  # noqa: F401
from dlrun.cli import sweep  # noqa: F401
from dlrun.cli import tune  # noqa: F401
from dlrun.cli import use  # noqa: F401
from dlrun.cli import authoring  # noqa: F401
from dlrun.cli import catalog  # noqa: F401
from dlrun.cli import data  # noqa: F401
from dlrun.cli import runs  # noqa: F401
from dlrun.cli import ci  # noqa: F401
from dlrun.cli import mlflow  # noqa: F401

# isort: on
from dlrun.cli.app import app

__all__ = ["app"]
