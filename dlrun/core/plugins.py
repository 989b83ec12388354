"""Plugins by entry point: packages that add models or data sources to dlrun.

A package declares, in its `pyproject.toml`,

    [project.entry-points."dlrun.models"]
    tiny = "my_package.models"        # a module whose import registers its models

and the module registers as dlrun's own models do (`@models.register("tiny", TinyParams)`).
Entry points are loaded the first time a registry is read, which is before the config schema
is built, so a plugin's model type validates, appears in `dlrun models` and trains like a
built-in one. As for dlrun's own modules, registering must not import TensorFlow.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from dlrun.core.errors import ConfigError

MODELS_GROUP = "dlrun.models"
DATA_SOURCES_GROUP = "dlrun.data_sources"


def plugin_entry_points(group: str) -> list[EntryPoint]:
    """The installed entry points of `group`, by name (their load order)."""
    return sorted(entry_points(group=group), key=lambda point: point.name)


def load_plugins(group: str) -> list[str]:
    """Import every module the group's entry points name; the names of those loaded."""
    loaded = []
    for point in plugin_entry_points(group):
        try:
            point.load()
        except Exception as error:  # a broken plugin is named, not a traceback from the CLI
            raise ConfigError(
                f"the plugin '{point.name}' ({group}: {point.value}) failed to load: "
                f"{type(error).__name__}: {error}",
                fix="fix or uninstall the package that provides it",
            ) from error
        loaded.append(point.name)
    return loaded
