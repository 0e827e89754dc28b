"""The documentation runs as written: every ``curl`` example of README.md, docs/*.md and
docs/engines/*.md is run with the real ``curl``, in document order, against a fresh
server, and its answer is compared with the response the document shows.

Each document gets its own server: uvicorn on a free port of 127.0.0.1 over a fresh
database, with the worker, the admin token ``test-admin-token`` and the demo tenants
``make run`` creates: ``demo`` (service mode ``plug_in``, brand ``main``) and ``demo-wl``
(service mode ``white_label``, brand ``main``).

The conventions a runnable example follows (write new examples this way):

* An example is a fenced ``sh``/``bash`` block holding one ``curl`` command. It runs
  in ``bash`` with these variables set: ``BASE`` (the server's address),
  ``WOWSINO_KEY`` (the demo tenant's test key), ``WOWSINO_WL_KEY`` and
  ``WOWSINO_WL_PUBLISHABLE_KEY`` (the white-label demo's test key and test publishable
  key) and ``ADMIN`` (the admin token). The
  literal placeholders the documents use are replaced too: ``http://127.0.0.1:8000`` by
  the address, any ``wsk_test_…`` key by the test key, ``<admin token>`` by the token.
* The fenced block right after it (only blank lines or directives between), when it
  is ``json`` or starts with ``HTTP/``, is the shown response. ``HTTP/1.1 <status>``
  with header lines (``…`` for left-out ones) fixes the status and the header names;
  a bare JSON body means a 2xx, or a 4xx/5xx when it is the error envelope (and then
  its ``code`` must match). No shown response: any 2xx passes.
* The real body must have every shown key, with the same JSON type; arrays the same
  length (at least as many elements when shown with ``…``). ``…`` stands for left-out
  members or elements. Values must be equal, except strings that differ from run to run
  (ids, times, seeds, hashes, keys, cursors, anything trimmed with ``…``).
* Directives are HTML comments, invisible in the rendered page:

  - ``<!-- capture: NAME=json.path -->`` after an example sets the shell variable
    ``NAME`` from its real answer (``lootbox.id``, ``data.0.id``) for the examples
    that follow, which use it as ``$NAME``; the text tells the reader what ``$NAME``
    is.
  - ``<!-- vary: key, key -->`` after an example: values under these keys (at any
    depth) may differ (a draw's result, a counter); their types may not.
  - ``<!-- not-run: reason -->`` right before a block: an example shown but not run
    (it needs something the test server does not have).
  - ``<!-- continues: quickstart.md -->`` anywhere: the examples of that document run
    first, on the same server (the document builds on its state).

Every event the examples cause must also match the event catalogue.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.conftest import ADMIN_TOKEN
from tests.docs.examples import (
    ROOT,
    Document,
    Example,
    compare,
    deterministic,
    is_error,
    read_document,
)
from tests.support.events import check_all, stored_events
from wowsino.api import create_app
from wowsino.kernel.config import Settings
from wowsino.kernel.db import create_engine
from wowsino.tenants.demo import (
    ensure_demo_games,
    ensure_demo_tenant,
    ensure_white_label_demo,
)

CURL = "/usr/bin/curl"
BASH = shutil.which("bash") or "/bin/bash"
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
               *(ROOT / "docs" / "engines").glob("*.md")])
RUNNABLE_FLOOR = 45  # the documents hold at least this many runnable examples
PRELUDE = (
    "set -e\n"
    # the status goes to stderr so that stdout is exactly what the reader sees
    f"curl() {{ {CURL} --show-error --max-time 30 "
    "--write-out '%{stderr}@@status=%{http_code}@@' \"$@\"; }\n"
)


def _with_examples() -> list[Path]:
    return [p for p in DOCS if read_document(p).examples]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A server as ``make run`` starts it; the variables the examples use."""
    settings = Settings(admin_token=ADMIN_TOKEN, db_pool_size=5, data_dir=tmp_path)

    async def demo() -> tuple[dict[str, Any], dict[str, Any]]:
        engine = create_engine(db_url, pool_size=1)
        try:
            made = (await ensure_demo_tenant(engine, tmp_path),
                    await ensure_white_label_demo(engine, tmp_path))
            await ensure_demo_games(engine, settings)
            return made
        finally:
            await engine.dispose()

    keys, white_label = asyncio.run(demo())
    app = create_app(settings, database_url=db_url, run_worker=True)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="docs-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield {"BASE": f"http://127.0.0.1:{port}", "WOWSINO_KEY": keys["test_key"],
               "WOWSINO_WL_KEY": white_label["test_key"],
               "WOWSINO_WL_PUBLISHABLE_KEY": white_label["publishable_key"],
               "ADMIN": ADMIN_TOKEN}
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def _substitute(command: str, env: dict[str, str]) -> str:
    command = command.replace("http://127.0.0.1:8000", env["BASE"])
    command = re.sub(r"wsk_test_[0-9a-f]*…?", env["WOWSINO_KEY"], command)
    return command.replace("<admin token>", env["ADMIN"])


def _run(example: Example, env: dict[str, str]) -> tuple[int, dict[str, str], str]:
    done = subprocess.run(
        [BASH, "-c", PRELUDE + _substitute(example.command, env)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )
    found = re.search(r"@@status=(\d+)@@", done.stderr)
    if done.returncode != 0 or found is None:
        raise AssertionError(f"{example.where}: curl failed ({done.returncode}): "
                             f"{done.stderr.strip()}")
    out, headers = done.stdout, {}
    if out.startswith("HTTP/"):
        head, _, out = out.partition("\n\n")  # text mode reads CRLF as LF
        for line in head.splitlines()[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(found.group(1)), headers, out


def _lookup(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def check_example(example: Example, env: dict[str, str]) -> list[str]:
    """Run one example and say how its answer differs from the document."""
    status, headers, out = _run(example, env)
    shown = example.shown
    try:
        body = json.loads(out, parse_float=Decimal) if out.strip() else None
    except ValueError:
        body = out
    problems: list[str] = []
    if shown is not None and shown.status is not None:
        expected_ok = shown.status == status
    elif shown is not None and is_error(shown.body):
        expected_ok = status >= 400
    else:
        expected_ok = 200 <= status < 300
    if not expected_ok:
        wanted = shown.status if shown and shown.status else "an error" if shown else "2xx"
        problems.append(f"status {status}, the document implies {wanted}: {out[:300]}")
    elif shown is not None:
        for name, value in shown.headers.items():
            if name not in headers:
                problems.append(f"header {name}: shown but missing")
            elif deterministic(value) and not name.startswith("ratelimit") \
                    and name not in example.vary and headers[name] != value:
                problems.append(f"header {name}: shown {value!r}, got {headers[name]!r}")
        if shown.body is not None:
            problems += compare(shown.body, body, example.vary)
    for var, path in example.captures:
        try:
            env[var] = str(_lookup(body, path))
        except (KeyError, IndexError, TypeError, ValueError):
            problems.append(f"capture {var}={path}: not in the answer")
    return [f"{example.where}: {p}" for p in problems]


def run_document(document: Document, env: dict[str, str],
                 running: tuple[Path, ...] = ()) -> tuple[int, int, list[str]]:
    """Run a document's examples (after those of the documents it continues): ran,
    skipped, and every difference."""
    ran = skipped = 0
    problems: list[str] = []
    if document.path in running:
        raise AssertionError(f"{document.path}: continues itself through {running}")
    for earlier in document.continues:
        _, _, found = run_document(read_document(earlier), env, (*running, document.path))
        problems += found
    for example in document.examples:
        if example.skip is not None:
            skipped += 1
            continue
        problems += check_example(example, env)
        ran += 1
    return ran, skipped, problems


@pytest.mark.parametrize("path", _with_examples(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_curl_examples_answer_as_shown(path: Path, live: dict[str, str],
                                           db_url: str) -> None:
    ran, skipped, problems = run_document(read_document(path), dict(live))
    print(f"{path.relative_to(ROOT)}: {ran} examples ran, {skipped} not run")
    assert problems == [], "\n".join(problems)
    assert ran > 0
    assert asyncio.run(_event_problems(db_url)) == []


async def _event_problems(db_url: str) -> list[str]:
    return check_all(await stored_events(db_url))


def test_the_documents_hold_enough_runnable_examples() -> None:
    examples = [e for p in DOCS for e in read_document(p).examples]
    runnable = [e for e in examples if e.skip is None]
    print(f"{len(runnable)} runnable curl examples, {len(examples) - len(runnable)} not run")
    assert len(runnable) >= RUNNABLE_FLOOR
    assert Path(CURL).exists()


def test_every_not_run_example_says_why() -> None:
    for path in DOCS:
        for example in read_document(path).examples:
            assert example.skip is None or example.skip.strip(), example.where
