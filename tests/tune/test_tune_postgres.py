"""`dlrun tune --storage postgresql://...`: a study on a real PostgreSQL server started here.

Skipped where the server's binaries (`apt-get install postgresql`) or the driver
(`pip install psycopg2-binary`) are absent. The server runs from a temporary folder on a free
port of 127.0.0.1, as the `postgres` user when the tests run as root (initdb refuses root).
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlrun import runs
from dlrun.cli import app
from tests.conftest import write_config


def postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)), None
    )
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg2")
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    prefix: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="dlrun-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user to run the server")
        os.chown(folder, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"

    def pg(tool: str, *arguments: str) -> None:
        subprocess.run([*prefix, str(binaries / tool), *arguments], check=True, capture_output=True)

    try:
        pg("initdb", "-D", str(data), "-U", "dlrun", "--auth=trust")
        pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start")
        yield f"postgresql+psycopg2://dlrun@127.0.0.1:{port}/postgres"
        pg("pg_ctl", "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_a_study_runs_on_a_postgresql_server(tmp_path, tiny_table, postgres_url):
    config = write_config(
        tmp_path,
        f"""
name: tiny
seed: 7
data: {{source: csv, path: {tiny_table.name}, target: y, features: [a, b]}}
model: {{type: mlp, units: [4]}}
train: {{epochs: 2, batch_size: 64, optimizer: {{name: adam, learning_rate: 0.01}}}}
report: {{plots: false, save_model: false}}
""",
    )
    arguments = ["tune", str(config), "--param", "model.dropout={uniform: [0, 0.5]}"]
    arguments += ["--trials", "2", "--jobs", "2", "--storage", postgres_url, "--study", "pg"]
    result = CliRunner().invoke(app, [*arguments, "--pruner", "none", "--json"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.splitlines()[-1])
    assert summary["storage"] == postgres_url and summary["complete"] == 2
    folder = Path(summary["study_dir"])
    assert not (folder / "study.db").exists()  # the trials are in the server, the runs here
    trial_runs = runs.run_folders([folder], default_root=folder)
    assert [runs.read_run(path).status for path in trial_runs] == [runs.COMPLETED] * 2
    import optuna

    study = optuna.load_study(study_name="pg", storage=postgres_url)
    assert sorted(t.number for t in study.trials) == [0, 1]
