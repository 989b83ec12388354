"""README's config reference is generated from the config schema and must be up to date."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlrun import docs
from dlrun.config.json_schema import config_json_schema
from tests.conftest import ROOT

README = ROOT / "README.md"


def test_readme_config_reference_is_up_to_date():
    text = README.read_text(encoding="utf-8")
    assert docs.render(text, config_json_schema()) == text, (
        "README.md's config reference is stale: run `python -m dlrun.docs`"
    )


def test_every_key_of_every_section_has_a_row_with_a_meaning():
    text = README.read_text(encoding="utf-8")
    for name, table in docs.tables(config_json_schema()).items():
        block = re.search(rf"<!-- schema:{re.escape(name)} -->\n(.*?)<!-- /schema -->", text, re.S)
        assert block, name
        for key in table.rows():
            row = re.search(rf"^\| `{re.escape(key)}` \| [^|]+ \| (.+) \|$", block[1], re.M)
            assert row and row[1].strip(), f"{name}.{key} has no description in the schema"


def test_a_changed_description_makes_the_check_fail_until_regenerated(tmp_path: Path):
    stale = tmp_path / "README.md"
    stale.write_text(
        README.read_text(encoding="utf-8").replace("Maximum number of epochs.", "How long."),
        encoding="utf-8",
    )
    assert docs.main(["--check", "--readme", str(stale)]) == 1
    assert docs.main(["--readme", str(stale)]) == 0  # regenerates
    assert stale.read_text(encoding="utf-8") == README.read_text(encoding="utf-8")
    assert docs.main(["--check", "--readme", str(stale)]) == 0


def test_a_section_without_a_block_is_named():
    text = README.read_text(encoding="utf-8")
    without = re.sub(r"<!-- schema:model.cnn -->\n.*?<!-- /schema -->\n", "", text, flags=re.S)
    with pytest.raises(docs.StaleReadme, match=re.escape("no block for 'model.cnn'")):
        docs.render(without, config_json_schema())
