"""The `dlrun` command line. Importing this package registers every command on `app`."""

# isort: off
# Registration order is the order of `dlrun --help`: training commands first.
from dlrun.cli import training  # noqa: F401
from dlrun.cli import sweep  # noqa: F401
from dlrun.cli import use  # noqa: F401
from dlrun.cli import authoring  # noqa: F401
from dlrun.cli import runs  # noqa: F401
from dlrun.cli import ci  # noqa: F401

# isort: on
from dlrun.cli.app import app

__all__ = ["app"]
