"""Commands that work on existing data, run where there is no database, refuse with a
message naming WOWSINO_DATA_DIR and exit non-zero; they never start an empty database
(which then reported "0 entries verified")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _wowsino() -> str:
    beside = Path(sys.executable).with_name("wowsino")
    found = str(beside) if beside.exists() else shutil.which("wowsino")
    assert found, "the wowsino command is not installed"
    return found


@pytest.mark.parametrize("args", [
    ["ledger", "verify"], ["audit", "verify"], ["tenants", "list"],
    ["keys", "revoke", "--tenant", "acme", "00000000-0000-0000-0000-000000000000"],
])
def test_a_command_refuses_where_there_is_no_database(tmp_path: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WOWSINO_DATABASE_URL", "WOWSINO_DATA_DIR")}
    env.update(COLUMNS="1000", NO_COLOR="1")
    done = subprocess.run([_wowsino(), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "WOWSINO_DATA_DIR" in output
    assert str(tmp_path.resolve() / ".wowsino") in output
    assert "verified" not in output
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_a_data_dir_without_a_server_is_refused_too(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "WOWSINO_DATABASE_URL"}
    env.update(WOWSINO_DATA_DIR=str(tmp_path / "elsewhere"), COLUMNS="1000", NO_COLOR="1")
    done = subprocess.run([_wowsino(), "ledger", "verify"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "WOWSINO_DATA_DIR" in done.stderr
    assert list((tmp_path / "elsewhere").iterdir()) == []
