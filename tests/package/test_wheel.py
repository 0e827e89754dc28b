"""The package installs like a Python package: the wheel, installed into a fresh virtual
environment from the lock file, serves from any directory on its embedded database."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make test` installs uv into the project's environment
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv") or "uv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([UV, "build", "--wheel", "--out-dir", str(out), "--quiet", str(ROOT)],
                   check=True, cwd=ROOT)
    (built,) = out.glob("wowsino-*.whl")
    return built


def test_wheel_metadata_is_complete_and_carries_what_the_server_reads(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (meta_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(meta_name).decode())
        (entry_name,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = zf.read(entry_name).decode()
    assert meta["Name"] == "wowsino"
    assert meta["Version"]
    assert meta["Summary"]
    assert meta["License-Expression"] or meta["License"]
    assert meta["Requires-Python"] == ">=3.11"
    assert "wowsino = wowsino.cli:app" in entry_points
    assert "wowsino/migrations/env.py" in names
    assert any(n.startswith("wowsino/migrations/versions/0001_") for n in names)
    assert "wowsino/console/templates/base.html" in names
    assert "wowsino/console/static/console.css" in names
    assert "wowsino/fairness/templates/verify.html" in names
    assert "wowsino/fairness/static/verify.js" in names
    assert "wowsino/fairness/static/verify.css" in names
    assert "wowsino/py.typed" in names


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory of this test's own (not pytest's rotating base directory, which a
    concurrent pytest run may prune while the server still uses it)."""
    with tempfile.TemporaryDirectory(prefix="wowsino-wheel-") as root:
        yield Path(root)


def test_installed_wheel_serves_from_another_directory(wheel: Path, scratch: Path) -> None:
    tmp_path = scratch
    venv = tmp_path / "venv"
    requirements = tmp_path / "requirements.txt"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    # the exact versions of the lock file, then the wheel itself
    exported = subprocess.run(
        [UV, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
         "--quiet", "--project", str(ROOT)],
        check=True, capture_output=True, text=True,
    ).stdout
    requirements.write_text(exported)
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    subprocess.run([UV, "pip", "install", "--quiet", "-r", str(requirements)], check=True, env=env)
    subprocess.run([UV, "pip", "install", "--quiet", "--no-deps", str(wheel)], check=True, env=env)

    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    port, psp_port, kyc_port, games_port = (_free_port(), _free_port(), _free_port(),
                                            _free_port())
    serve_env = {k: v for k, v in os.environ.items() if not k.startswith("WOWSINO_")}
    serve_env.update({"WOWSINO_DATA_DIR": str(workdir / "data"), "PYTHONPATH": "",
                      "WOWSINO_SANDBOX_PSP_URL": f"http://127.0.0.1:{psp_port}",
                      "WOWSINO_SANDBOX_KYC_URL": f"http://127.0.0.1:{kyc_port}",
                      "WOWSINO_SANDBOX_GAMES_URL": f"http://127.0.0.1:{games_port}"})
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(venv / "bin" / "wowsino"), "serve", "--demo", "--port", str(port)],
        cwd=workdir, env=serve_env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180  # a loaded 2-core machine starts slowly
        answer = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        log.flush()
        output = (tmp_path / "serve.log").read_text()
        assert answer is not None and answer.status_code == 200, output
        assert answer.json()["status"] == "ready"
        console = httpx.get(f"http://127.0.0.1:{port}/admin/sign-in", timeout=5)
        assert console.status_code == 200
        assert "stylesheet" in console.text
        css = httpx.get(f"http://127.0.0.1:{port}/admin/static/console.css", timeout=5)
        assert css.status_code == 200
        verifier = httpx.get(f"http://127.0.0.1:{port}/fairness/verify", timeout=5)
        assert verifier.status_code == 200 and "/fairness/static/verify.js" in verifier.text
        script = httpx.get(f"http://127.0.0.1:{port}/fairness/static/verify.js", timeout=5)
        assert script.status_code == 200 and "crypto.subtle" in script.text
        assert "wsk_test_" in output  # the demo key was printed
        assert "demo-wl" in output and "wpk_test_" in output  # and the white-label demo's
        # the sandbox PSP, KYC vendor and aggregator run beside the API for the white-label
        # demo's deposits, verifications and games
        for sandbox_port in (psp_port, kyc_port, games_port):
            answer = None
            for _ in range(60):
                try:
                    answer = httpx.get(f"http://127.0.0.1:{sandbox_port}/healthz", timeout=2)
                    break
                except httpx.TransportError:
                    time.sleep(0.5)
            assert answer is not None and answer.status_code == 200, output
        assert f"http://127.0.0.1:{games_port}" in output
        assert "sandbox-slot" in httpx.get(f"http://127.0.0.1:{games_port}/healthz").text
        # nothing was written into the source tree's data directory
        assert (workdir / "data" / "pgdata").is_dir()
    finally:
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group (it stops its embedded database), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
