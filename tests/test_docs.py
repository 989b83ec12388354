"""The docs' reference pages are generated (tools/docgen.py) and must be up to date: the config
reference's tables from the config schema, the command-line reference from every `--help`."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from dlrun.config.json_schema import config_json_schema
from tests.conftest import ROOT
from tests.test_docs_commands import live_commands

CONFIG_PAGE = ROOT / "docs" / "reference" / "config.md"
CLI_PAGE = ROOT / "docs" / "reference" / "cli.md"
REGENERATE = "python tools/docgen.py"


def load_docgen():
    """tools/docgen.py is a script, not part of the package: loaded from its file."""
    spec = importlib.util.spec_from_file_location("tools_docgen", ROOT / "tools" / "docgen.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it is loading
    spec.loader.exec_module(module)
    return module


docgen = load_docgen()


def test_the_config_reference_is_up_to_date():
    text = CONFIG_PAGE.read_text(encoding="utf-8")
    assert docgen.render(text, config_json_schema()) == text, (
        f"docs/reference/config.md is stale: run `{REGENERATE}`"
    )


def test_the_cli_reference_is_up_to_date():
    assert docgen.render_cli() == CLI_PAGE.read_text(encoding="utf-8"), (
        f"docs/reference/cli.md is stale: run `{REGENERATE}`"
    )


def test_every_key_of_every_section_has_a_row_with_a_meaning():
    text = CONFIG_PAGE.read_text(encoding="utf-8")
    for name, table in docgen.tables(config_json_schema()).items():
        block = re.search(rf"<!-- schema:{re.escape(name)} -->\n(.*?)<!-- /schema -->", text, re.S)
        assert block, name
        for key in table.rows():
            row = re.search(rf"^\| `{re.escape(key)}` \| [^|]+ \| (.+) \|$", block[1], re.M)
            assert row and row[1].strip(), f"{name}.{key} has no description in the schema"


def test_every_command_of_the_live_cli_is_in_the_cli_reference():
    text = CLI_PAGE.read_text(encoding="utf-8")
    commands = list(live_commands())
    assert ("train",) in commands and ("baseline", "save") in commands
    for words in commands:
        heading = f"## `dlrun {' '.join(words)}`"
        assert f"\n{heading}\n" in text, f"{heading} missing: run `{REGENERATE}`"
        usage = f"Usage: dlrun {' '.join(words)} "
        assert usage in text, f"no `{usage}` line in docs/reference/cli.md"


def copies(tmp_path: Path, config: str | None = None, cli: str | None = None) -> list[str]:
    config_copy, cli_copy = tmp_path / "config.md", tmp_path / "cli.md"
    config_copy.write_text(config or CONFIG_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    cli_copy.write_text(cli or CLI_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    return ["--config-page", str(config_copy), "--cli-page", str(cli_copy)]


def test_a_changed_description_makes_the_check_fail_until_regenerated(tmp_path: Path):
    text = CONFIG_PAGE.read_text(encoding="utf-8")
    assert "Maximum number of epochs." in text
    pages = copies(tmp_path, config=text.replace("Maximum number of epochs.", "How long."))
    assert docgen.main(["--check", *pages]) == 1
    assert docgen.main(pages) == 0  # regenerates
    assert (tmp_path / "config.md").read_text(encoding="utf-8") == text
    assert docgen.main(["--check", *pages]) == 0


def test_a_stale_cli_reference_fails_the_check_until_regenerated(tmp_path: Path, capsys):
    text = CLI_PAGE.read_text(encoding="utf-8")
    stale = re.sub(r"\n## `dlrun train`\n.*?```\n.*?```\n", "\n", text, count=1, flags=re.S)
    assert stale != text
    pages = copies(tmp_path, cli=stale)
    assert docgen.main(["--check", *pages]) == 1
    assert f"stale; run `{REGENERATE}`" in capsys.readouterr().err
    assert docgen.main(pages) == 0
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == text


def test_a_section_without_a_block_is_named():
    text = CONFIG_PAGE.read_text(encoding="utf-8")
    without = re.sub(r"<!-- schema:model.cnn -->\n.*?<!-- /schema -->\n", "", text, flags=re.S)
    with pytest.raises(docgen.StaleReference, match=re.escape("no block for 'model.cnn'")):
        docgen.render(without, config_json_schema())


def test_commands_are_read_from_the_help_not_from_a_list():
    help = """Usage: dlrun [OPTIONS] COMMAND [ARGS]...

Options:
  --help  Show this message and exit.

Commands:
  train     Train, evaluate and save one run folder.
  sources   List the data sources, with a description long enough to
            wrap onto a second line.
  a-very-long-command-name
            Described on the next line.
  baseline  Baseline files for `dlrun check`.
"""
    assert docgen.subcommands(help) == ["train", "sources", "a-very-long-command-name", "baseline"]
    assert docgen.subcommands("Usage: dlrun train [OPTIONS]\n\nOptions:\n  --json  JSON.\n") == []
