"""The event stream's settings are checked before anything starts, and the relay's
record of published events is a compact multirange."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_cli_without_database import _wowsino
from wowsino.kernel.config import Settings
from wowsino.stream.relay import BadStreamSettings, Event, StreamSettings, ranges


def test_the_published_seqs_are_kept_as_ranges() -> None:
    assert ranges([]) == "{}"
    assert ranges([7, 1, 2, 3, 9, 8, 12]) == "{[1,4),[7,10),[12,13)}"


@pytest.mark.parametrize(("stream", "prefix"), [
    ("WOW SINO", "wowsino"), ("WOW.SINO", "wowsino"), ("WOWSINO", "wow*"),
    ("WOWSINO", "wow.>"), ("WOWSINO", "wowsino."), ("WOWSINO", "a b"), ("", "wowsino"),
    ("W" * 201, "wowsino"),  # its large events' object store would pass NATS's 255
])
def test_unusable_stream_names_and_prefixes_are_refused(stream: str, prefix: str) -> None:
    settings = Settings(nats_url="nats://127.0.0.1:4222", nats_stream=stream,
                        nats_subject_prefix=prefix)
    with pytest.raises(BadStreamSettings):
        StreamSettings.from_settings(settings)


def test_the_longest_stream_name_leaves_room_for_its_object_store() -> None:
    settings = StreamSettings.from_settings(Settings(
        nats_url="nats://n:4222", nats_stream="W" * 200, nats_subject_prefix="wowsino"))
    assert len(f"OBJ_{settings.bucket}") <= 255


def test_a_subject_names_the_tenant_mode_and_type() -> None:
    settings = StreamSettings.from_settings(Settings(
        nats_url="nats://n:4222", nats_stream="EVENTS", nats_subject_prefix="prod.wowsino"))
    event = Event(1, "e1", "acme-eu", "live", "player.status_changed", "{}", None)  # type: ignore[arg-type]
    assert event.subject(settings.prefix) == "prod.wowsino.acme-eu.live.player.status_changed"


def test_the_relay_refuses_to_start_without_a_nats_url(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOWSINO_")}
    done = subprocess.run([_wowsino(), "relay"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "WOWSINO_NATS_URL is not set" in done.stdout + done.stderr
    assert list(tmp_path.iterdir()) == []  # no database was started
