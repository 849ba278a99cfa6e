"""The server restarts mid-stream: writer and viewers come back by themselves and end equal."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.pages import TIMEOUT_MS, focus_editor, open_viewer, open_writer, share_link, text, wait_equal
from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Restartable:
    """A server on a fixed port and data dir, so links and the secret survive a restart."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.data_dir, self.env, self.port = data_dir, env, free_port()
        self.running: RunningServer = self.start()
        self.url = self.running.url

    def start(self) -> RunningServer:
        return start_server(self.data_dir, port=self.port, env=self.env)

    def restart(self, while_down: float = 0.0) -> None:
        assert self.running.stop() == 0, self.running.output()
        time.sleep(while_down)
        self.running = self.start()


@pytest.fixture
def restartable(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Restartable]:
    server = Restartable(tmp_path, getattr(request, "param", {}))
    yield server
    server.running.stop()


def test_writer_and_viewers_reconnect_by_themselves_after_a_restart(
    context: BrowserContext, restartable: Restartable
) -> None:
    writer = open_writer(context, restartable.url)
    viewers = [open_viewer(context, share_link(writer)) for _ in range(2)]
    focus_editor(writer)
    writer.keyboard.type("before the restart")
    wait_equal(writer, *viewers)

    assert restartable.running.stop() == 0
    expect(writer.locator("#status")).not_to_have_text("live")
    writer.keyboard.type(", typed while the server was down")  # kept, and sent as a full on return
    restartable.running = restartable.start()

    expect(writer.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    for viewer in viewers:
        expect(viewer.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    wait_equal(writer, *viewers)
    assert text(writer) == "before the restart, typed while the server was down"

    writer.keyboard.type(" and after")
    wait_equal(writer, *viewers)
    expect(writer.locator("#viewers")).to_have_text("2 viewers")


@pytest.mark.parametrize("restartable", [{"CODESTREAM_TOKEN_TTL_SECONDS": "2"}], indirect=True)
def test_expired_tokens_are_negotiated_again(context: BrowserContext, restartable: Restartable) -> None:
    writer = open_writer(context, restartable.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    writer.keyboard.type("tokens")
    wait_equal(writer, viewer)

    # Down long enough for every token to expire: reconnecting needs a new one from negotiate.
    restartable.restart(while_down=2.5)
    expect(writer.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    expect(viewer.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    writer.keyboard.type(" renewed")
    assert wait_equal(writer, viewer) == "tokens renewed"
    for page in (writer, viewer):
        assert page.evaluate("codestream.session.link.negotiations") >= 2
