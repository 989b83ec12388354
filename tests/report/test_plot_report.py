"""`dlrun plot` and `dlrun report`: the files exist, are valid PNG / HTML, and name every run."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from dlrun.report.run_plots import legend_labels
from dlrun.runs import read_run
from tests.runs.run_folders import write_run

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


@pytest.fixture
def sweep(tmp_path: Path) -> list[Path]:
    """Three runs of one config that differ in learning rate, and one failed run."""
    root = tmp_path / "outputs"
    folders = [
        write_run(root, index=i, config={"train.optimizer.learning_rate": rate})
        for i, rate in enumerate([0.1, 0.01, 0.001])
    ]
    folders.append(
        write_run(root, index=3, name="failing", status=runs.FAILED, info={"error": "NaN loss"})
    )
    return folders


def test_legend_labels_use_differing_params_when_names_repeat(sweep):
    loaded = [read_run(folder) for folder in sweep[:3]]
    assert legend_labels(loaded) == [
        "wine (learning_rate=0.1)",
        "wine (learning_rate=0.01)",
        "wine (learning_rate=0.001)",
    ]
    twins = [read_run(sweep[0]), read_run(sweep[0])]
    assert len(set(legend_labels(twins))) == 1  # the same run twice: nothing to tell apart
    unique = [read_run(sweep[0]), read_run(sweep[3])]
    assert legend_labels(unique) == ["wine", "failing (failed)"]


def test_plot_writes_a_png_that_names_every_run(sweep, tmp_path):
    target = tmp_path / "val_loss.png"
    result = runner.invoke(app, ["plot", *map(str, sweep), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.stderr
    assert target.read_bytes().startswith(PNG_MAGIC)
    with Image.open(target) as image:
        assert image.width > 400 and image.height > 300
        described = image.info["Description"]
    for folder in sweep:
        run = read_run(folder)
        assert run.id in described
    assert "learning_rate=0.001" in described and "failing" in described


def test_plot_defaults_to_val_loss_and_rejects_an_unknown_metric(sweep, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plot", str(sweep[0])])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plot-val_loss.png").read_bytes().startswith(PNG_MAGIC)
    result = runner.invoke(app, ["plot", str(sweep[0]), "--metric", "val_mea"])
    assert result.exit_code == 2
    assert "no run has a 'val_mea' column" in result.stderr
    assert "Did you mean 'val_mae'?" in result.stderr


class Structure(HTMLParser):
    """Collects tags, image sources and text; fails on a closing tag that closes nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_report(path: Path) -> Structure:
    document = path.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>")
    structure = Structure()
    structure.feed(document)
    assert structure.open == []  # every element closed
    assert {"html", "head", "title", "style", "body", "h1", "table"} <= set(structure.seen)
    # Self-contained: nothing to fetch, nothing to run.
    assert not re.search(r"(src|href)=\"(?!data:)", document)
    assert "<script" not in document and "<link" not in document
    for source in structure.images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_MAGIC)
    return structure


def test_report_on_several_runs_compares_them_and_names_every_run(sweep, tmp_path):
    target = tmp_path / "sweep.html"
    result = runner.invoke(app, ["report", *map(str, sweep), "--out", str(target)])
    assert result.exit_code == 0, result.output
    structure = parse_report(target)
    text = " ".join(structure.text)
    for folder in sweep:
        run = read_run(folder)
        assert run.id in text and run.name in text and str(folder) in text
    assert "Comparison of 4 runs" in text
    assert "train.optimizer.learning_rate" in text  # the param that differs ...
    assert "train.epochs" not in text  # ... and not one that does not
    assert len(structure.images) >= 2  # loss and mae, overlaid
    assert 'class="num best"' in target.read_text()


def test_report_on_one_run_shows_metrics_with_baseline_charts_and_config(sweep, tmp_path):
    folder = sweep[2]
    (folder / "loss.png").write_bytes(_tiny_png())
    target = tmp_path / "one.html"
    result = runner.invoke(app, ["report", str(folder), "--out", str(target)])
    assert result.exit_code == 0, result.output
    structure = parse_report(target)
    text = " ".join(structure.text)
    assert "baseline (test)" in text and "0.69" in text
    assert "learning_rate: 0.001" in text  # the config, verbatim
    assert len(structure.images) == 1  # the run's own loss.png


def test_report_escapes_run_text_and_survives_failed_and_broken_runs(tmp_path):
    root = tmp_path / "outputs"
    nasty = write_run(
        root,
        index=0,
        name="<script>alert(1)</script>",
        status=runs.FAILED,
        info={"error": "boom <b>"},
    )
    broken = write_run(root, index=1)
    (broken / "metrics.json").write_text("{")
    target = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(root), "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert f"{broken / 'metrics.json'}: not valid JSON" in result.stderr
    document = target.read_text()
    assert "<script>" not in document and "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    parse_report(target)
    single = tmp_path / "single.html"
    assert runner.invoke(app, ["report", str(nasty), "--out", str(single)]).exit_code == 0
    assert "boom &lt;b&gt;" in single.read_text()


def _tiny_png() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(buffer, format="PNG")
    return buffer.getvalue()
