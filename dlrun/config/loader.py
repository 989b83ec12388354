"""Reading a config: YAML file -> `--set` overrides -> validated `ExperimentConfig`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from dlrun.config.errors import describe_all
from dlrun.config.inherit import expand_short_forms, load_document
from dlrun.config.safe_yaml import MAX_DEPTH, load_yaml
from dlrun.config.schema import ExperimentConfig
from dlrun.core.errors import ConfigError


def parse_override(override: str) -> tuple[list[str], Any]:
    """`train.optimizer.learning_rate=0.01` -> (['train', 'optimizer', 'learning_rate'], 0.01)."""
    key, sep, text = override.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(
            "a --set override must look like KEY=VALUE",
            received=override,
            expected="a dotted key and a YAML value, e.g. train.epochs=3 or model.units=[256,128]",
        )
    if len(parts) > MAX_DEPTH:
        raise ConfigError(
            f"--set: the key has {len(parts)} parts", received=key, expected=f"at most {MAX_DEPTH}"
        )
    return parts, load_yaml(text, source=f"--set {key}") if text.strip() else ""


def apply_override(document: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = document
    for depth, part in enumerate(parts[:-1]):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(
                f"--set {'.'.join(parts)}: '{'.'.join(parts[:depth])}' is not a mapping",
                received=node,
            )
        if node.get(part) is None:
            node[part] = {}
        elif not isinstance(node[part], dict | list):
            raise ConfigError(
                f"--set {'.'.join(parts)}: '{'.'.join(parts[: depth + 1])}' holds a value, "
                "not a mapping, so nothing can be set inside it",
                received=node[part],
                fix=f"set '{'.'.join(parts[: depth + 1])}' itself",
            )
        node = node[part]
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {'.'.join(parts)}: cannot set a key inside {node!r}")


def load_raw(path: Path, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The config as written: the file, its `extends:` bases and the overrides, not validated."""
    document = load_document(path)  # the file, with its `extends:` bases merged in
    expand_short_forms(document)
    for override in overrides:
        apply_override(document, *parse_override(override))
    document.setdefault("name", path.stem)
    return document


def load_config(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """The validated config; every problem is reported at once in one `ConfigError`."""
    path = Path(path)
    document = load_raw(path, overrides)
    try:
        return ExperimentConfig.model_validate(document, context={"base_dir": path.parent})
    except ValidationError as error:
        problems = describe_all(error)
        listed = "\n".join(f"  - {problem}" for problem in problems)
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ConfigError(f"{count} in the config:\n{listed}", source=str(path)) from None


def resolved_dict(config: ExperimentConfig) -> dict[str, Any]:
    """The config with every default filled in, as plain YAML/JSON types."""
    return config.model_dump(mode="json")


def to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(resolved_dict(config), sort_keys=False, allow_unicode=True)
