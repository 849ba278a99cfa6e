"""When the server fails on a writer's message, the writer's page sends its whole text again,
on each host: self-hosted and the Azure build in Microsoft's worker.

The server's core is made to fail (tests/support/faults.py) on the last edit the writer
makes: that edit reaches neither the room nor the viewers, and nothing later would reveal
the gap, so the viewer holds the writer's text only if the writer resynced on the error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.pages import focus_editor, open_viewer, open_writer, share_link, stats, text, wait_text
from tests.support.faults import MARKER_ENV
from tests.support.hosts import start_azure_local
from tests.support.server import RunningServer, start_server

pytestmark = pytest.mark.browser

MARKER = "💥"  # one keystroke, so one delta holds it whole


@pytest.fixture(params=["selfhost", "azure"])
def failing_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    env = {MARKER_ENV: MARKER}
    if request.param == "selfhost":
        running = start_server(tmp_path, env=env, module="tests.support.failing_selfhost")
    else:
        running = start_azure_local(tmp_path, env=env, module="tests.support.failing_azure_local")
    yield running
    running.stop()


def test_the_writer_resyncs_after_an_internal_error(context: BrowserContext, failing_server: RunningServer) -> None:
    writer = open_writer(context, failing_server.url)
    viewer = open_viewer(context, share_link(writer))
    expect(viewer.locator("#status")).to_have_text("live")
    focus_editor(writer)
    writer.keyboard.type("print(1)")
    wait_text(viewer, "print(1)")
    fulls = stats(writer)["fulls"]

    writer.keyboard.type(f" # {MARKER}")  # the server fails on the delta holding the marker
    assert text(writer) == f"print(1) # {MARKER}"
    wait_text(viewer, f"print(1) # {MARKER}")
    assert stats(writer)["fulls"] > fulls, "the viewer got the text some other way than the writer's full"
    assert "sendToRoom failed" in failing_server.output()
