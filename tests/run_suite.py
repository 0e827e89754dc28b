"""Run the suite: on the embedded server, then (in CI, when it answers) on the
machine's PostgreSQL at 127.0.0.1:5432. Exits non-zero on any failure, and when
pytest collects no tests (exit code 5)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

EXTERNAL = "postgresql://postgres@127.0.0.1:5432/test"


def _answers(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, port)) == 0


def _pytest(args: list[str], env: dict[str, str]) -> int:
    rc = subprocess.call([sys.executable, "-m", "pytest", *args], env=env)
    if rc == 5:
        print("pytest collected no tests", file=sys.stderr)
        return 1
    return rc


def main() -> int:
    args = sys.argv[1:]
    env = dict(os.environ)
    env.pop("WOWSINO_TEST_DATABASE_URL", None)
    rc = _pytest(args, env)
    if rc:
        return rc
    if os.environ.get("CI") == "true" and _answers("127.0.0.1", 5432):
        print(f"\n== integration tests again on {EXTERNAL} ==", flush=True)
        rc = _pytest([*args, "-m", "integration"],
                     {**env, "WOWSINO_TEST_DATABASE_URL": EXTERNAL})
    return rc


if __name__ == "__main__":
    sys.exit(main())
