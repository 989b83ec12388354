"""`extends:`: a config written as the changes to another one.

    # configs/wine_small.yaml
    extends: wine_quality.yaml        # relative to this file; a list merges several in order
    model: {units: [64, 64]}
    train: {epochs: 20}

The bases are read first (each may extend others in turn), then the file's own keys are merged
over them: mappings merge key by key at every depth; anything else (a value, a list, `null`)
replaces what the base had. A bare optimizer name (`optimizer: sgd`) replaces the base's
optimizer settings, a mapping merges into them. `name` is not inherited: it defaults to the
extending file's own name. Paths written in a base (`data.path`, ...) stay relative to the base
file's folder. A file that extends itself, directly or through others, is an error naming the
chain.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from dlrun.config.safe_yaml import read_yaml
from dlrun.core.errors import ConfigError

EXTENDS_KEY = "extends"
MAX_FILES = 100
"""Config files one load may read; real families of configs use a handful."""


class _FromBase(str):
    """A string read from a base file, remembering that file's folder: it may be a path, which
    must stay relative to the file it was written in. Turned back into a plain `str` (resolved
    where the schema says it is a path) before the config is validated."""

    folder: Path

    def __new__(cls, value: str, folder: Path) -> _FromBase:
        text = super().__new__(cls, value)
        text.folder = folder
        return text


def load_document(path: Path) -> dict[str, Any]:
    """The config file's mapping with every `extends:` resolved and merged (not yet validated)."""
    document = _resolve(path, chain=(), reads=[])
    _resolve_base_paths(document)
    return _plain(document)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge recursively, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def expand_short_forms(document: dict[str, Any]) -> None:
    """`optimizer: adam` -> `optimizer: {name: adam}`, so overrides can reach inside it."""
    train = document.get("train")
    if isinstance(train, dict) and isinstance(train.get("optimizer"), str):
        train["optimizer"] = {"name": train["optimizer"]}


def _resolve(path: Path, chain: tuple[Path, ...], reads: list[Path]) -> dict[str, Any]:
    reads.append(path)
    if len(reads) > MAX_FILES:
        # Bases listed twice at every level multiply: 30 levels would read a billion files.
        raise ConfigError(
            f"{EXTENDS_KEY}: more than {MAX_FILES} config files to read",
            expected=f"at most {MAX_FILES} files, counting a base once for each time it is named",
            source=str(chain[0] if chain else path),
        )
    document = read_yaml(path)
    if EXTENDS_KEY not in document:
        return document
    bases = _base_paths(document.pop(EXTENDS_KEY), path)
    inherited: dict[str, Any] = {}
    for base in bases:
        _refuse_cycle(base, (*chain, path))
        base_document = _resolve(base, (*chain, path), reads)
        base_document.pop("name", None)  # each file names its own runs
        inherited = merge(inherited, _tag_strings(base_document, base.parent.absolute()))
    # Expanded on the base side only: a bare name in this file replaces the base's optimizer.
    expand_short_forms(inherited)
    return merge(inherited, document)


def _base_paths(value: Any, path: Path) -> list[Path]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"{EXTENDS_KEY}: expected a config file name, or a list of them",
            received=value,
            expected="e.g. `extends: base.yaml` (relative to this file)",
            source=str(path),
        )
    bases = []
    for name in names:
        # Normalised, so the paths a base contributes read `../base/x.csv` -> `base/x.csv`.
        base = Path(os.path.normpath(path.parent / Path(name).expanduser()))
        if not base.is_file():
            raise ConfigError(
                f"{EXTENDS_KEY}: the base config '{name}' does not exist",
                received=str(base),
                fix="check the file name; it is relative to the file that extends it",
                source=str(path),
            )
        bases.append(base)
    return bases


def _refuse_cycle(base: Path, chain: tuple[Path, ...]) -> None:
    seen = [p.resolve() for p in chain]
    if base.resolve() in seen:
        loop = [*chain[seen.index(base.resolve()) :], base]
        raise ConfigError(
            f"{EXTENDS_KEY}: the configs extend each other in a circle: "
            + " -> ".join(p.name for p in loop),
            expected="a chain that ends in a config without `extends`",
            fix=f"remove `{EXTENDS_KEY}` from one of these files",
            source=str(chain[-1]),
        )


def _tag_strings(node: Any, folder: Path) -> Any:
    """Every string of a base, tagged with the base's folder (kept when already tagged by a
    deeper base, whose folder is the one it was written relative to)."""
    if isinstance(node, dict):
        return {key: _tag_strings(value, folder) for key, value in node.items()}
    if isinstance(node, list):
        return [_tag_strings(value, folder) for value in node]
    if isinstance(node, str) and not isinstance(node, _FromBase):
        return _FromBase(node, folder)
    return node


def _resolve_base_paths(document: dict[str, Any]) -> None:
    """Make path values that came from a base absolute, against that base's folder.

    Which keys are paths depends on the section's kind (`data.source`, `model.type`), known
    only once every file is merged, so strings are tagged while merging and resolved here.
    """
    from dlrun.config.schema import SECTION_REGISTRIES, ExperimentConfig

    for section, registry in SECTION_REGISTRIES.items():
        values = document.get(section)
        discriminator = ExperimentConfig.model_fields[section].discriminator
        if not isinstance(values, dict) or not isinstance(discriminator, str):
            continue
        kind = values.get(discriminator)
        if not isinstance(kind, str) or kind not in registry:
            continue  # validation reports it
        for key in _path_keys(registry.get(kind).params):
            value = values.get(key)
            if isinstance(value, _FromBase) and not Path(value).expanduser().is_absolute():
                values[key] = str(value.folder / value)


def _path_keys(params: type) -> list[str]:
    """The keys a params class declares as file paths (`ConfigPath`, optional or not)."""
    return [
        name
        for name, field in params.model_fields.items()  # type: ignore[attr-defined]
        if Path in _alternatives(field.annotation)
    ]


def _alternatives(annotation: Any) -> list[Any]:
    if get_origin(annotation) is Annotated:
        return _alternatives(get_args(annotation)[0])
    if get_origin(annotation) in (Union, UnionType):
        return [alt for arg in get_args(annotation) for alt in _alternatives(arg)]
    return [annotation]


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, _FromBase):
        return str.__str__(node)
    return node
