"""A stream's life as a recording: an ended stream opens as its replay, an export file replays
with no server (file picker and drag and drop), a deleted stream is gone for its viewers, and the
writer's chosen lifetime is the stream's."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog, Page, expect

from tests.browser.pages import (
    focus_editor,
    history_loaded,
    open_viewer,
    open_writer,
    share_link,
    text,
    type_slowly,
    wait_equal,
    wait_text,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


def room_of(writer: Page) -> str:
    return share_link(writer).split("#", 1)[1]


def streamed(context: BrowserContext, server: RunningServer, words: list[str]) -> tuple[Page, Page]:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    type_slowly(writer, words)
    wait_equal(writer, viewer)
    return writer, viewer


def test_an_ended_stream_opens_as_its_replay(context: BrowserContext, server: RunningServer) -> None:
    writer, viewer = streamed(context, server, ["print(", "'the end'", ")"])
    final = text(writer)
    writer.once("dialog", lambda dialog: dialog.accept())
    writer.get_by_role("button", name="End stream").click()
    expect(writer.locator("#status")).to_have_text("ended")
    expect(viewer.locator("#status")).to_have_text("ended")  # told at once
    assert writer.evaluate("codestream.editor.getOption(codestream.monaco.editor.EditorOption.readOnly)")
    focus_editor(writer)
    writer.keyboard.type("too late")
    assert text(writer) == final

    late = open_viewer(context, share_link(writer))
    expect(late.locator("#status")).to_have_text("ended")
    wait_text(late, final)  # opens at the end of the replay
    expect(late.locator("#live-badge")).to_be_hidden()
    expect(late.locator("#behind")).to_be_hidden()
    late.get_by_role("slider", name="Stream time").focus()
    late.keyboard.press("Home")
    assert text(late) == ""
    late.get_by_role("slider", name="Stream time").focus()
    late.keyboard.press("Space")  # plays, as the Play button does
    expect(late.get_by_role("button", name="Pause the replay")).to_be_visible()
    late.select_option("#speed", "8")  # faster while playing
    wait_text(late, final)
    expect(late.get_by_role("button", name="Play from here")).to_be_visible()  # stopped at the end


def test_export_then_open_the_file_with_the_picker_and_by_dropping_it(
    context: BrowserContext, server: RunningServer, tmp_path: Path
) -> None:
    writer, viewer = streamed(context, server, ["const a = 1;", "\nconst b = '😀';"])
    writer.keyboard.press("Alt+Shift+M")
    writer.get_by_label("Marker label").fill("both constants")
    writer.get_by_label("Marker label").press("Enter")
    final = text(writer)
    expect(viewer.locator(".marker")).to_have_count(1)
    history_loaded(viewer)

    with viewer.expect_download() as download:
        viewer.get_by_role("button", name="Export").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    exported = json.loads(path.read_text())
    assert exported["format"] == "codestream-stream" and exported["format_version"] == 1
    assert exported["room_id"] == room_of(writer)
    assert {e["message"]["type"] for e in exported["entries"]} >= {"delta", "marker"}
    assert [e["version"] for e in exported["entries"]] == sorted(e["version"] for e in exported["entries"])

    # With the picker, on another page: the replay needs no server.
    reader = context.new_page()
    reader.goto(server.url + "/")
    reader.wait_for_function("() => window.codestream && codestream.session")
    reader.set_input_files("#recording-file", path)
    expect(reader.locator("#role")).to_have_text("Recording")
    wait_text(reader, final)
    expect(reader.locator(".marker")).to_have_count(1)
    reader.get_by_role("slider", name="Stream time").focus()
    reader.keyboard.press("Home")
    assert text(reader) == ""
    reader.locator(".marker").click()
    assert text(reader) == final

    # By dropping the file on the page.
    dropped = context.new_page()
    dropped.goto(server.url + "/#" + room_of(writer))
    dropped.wait_for_function("() => window.codestream && codestream.session")
    dropped.evaluate(
        """content => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([content], 'stream.json', {type: 'application/json'}));
            const options = {dataTransfer: transfer, bubbles: true, cancelable: true};
            for (const type of ['dragover', 'drop']) document.body.dispatchEvent(new DragEvent(type, options));
        }""",
        path.read_text(),
    )
    expect(dropped.locator("#role")).to_have_text("Recording")
    wait_text(dropped, final)
    expect(dropped.locator("#drop-zone")).to_be_hidden()

    # A file that is no recording says so and changes nothing.
    other = tmp_path / "notes.json"
    other.write_text('{"hello": 1}')
    reader.set_input_files("#recording-file", other)
    expect(reader.locator("#notice")).to_contain_text("not a codestream recording")
    assert text(reader) == final
    damaged = tmp_path / "damaged.json"
    change = {"rangeOffset": 5, "rangeLength": 0, "text": "x"}  # past the end of the empty text
    delta = {"type": "delta", "version": 1, "changes": [{"changes": [change]}]}
    damaged.write_text(json.dumps({**exported, "entries": [{"version": 1, "at": 1.0, "message": delta}]}))
    reader.set_input_files("#recording-file", damaged)
    expect(reader.locator("#notice")).to_contain_text("does not apply")
    assert text(reader) == final


def test_delete_removes_the_stream_for_everyone(context: BrowserContext, server: RunningServer) -> None:
    writer, viewer = streamed(context, server, ["secret = 42"])
    room = room_of(writer)
    dialogs: list[str] = []

    def dismiss_then_accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        if len(dialogs) == 1:
            dialog.dismiss()
        else:
            dialog.accept()

    writer.on("dialog", dismiss_then_accept)
    writer.get_by_role("button", name="Delete stream").click()
    expect(writer.locator("#status")).to_have_text("live")  # dismissed: nothing happened
    assert writer.request.get(f"{server.url}/api/rooms/{room}/text").ok
    writer.get_by_role("button", name="Delete stream").click()
    assert len(dialogs) == 2 and "Delete" in dialogs[0]

    expect(writer.locator("#status")).to_have_text("deleted")
    expect(viewer.locator("#status")).to_have_text("deleted")
    expect(viewer.locator("#notice")).to_contain_text("deleted")
    assert text(viewer) == ""
    expect(viewer.locator("#timeline")).to_be_hidden()
    for path in (f"/api/rooms/{room}/text", f"/api/rooms/{room}/history"):
        assert writer.request.get(server.url + path).status == 404
    # The viewer's page stays put: no reconnecting to a stream that is gone.
    viewer.wait_for_timeout(1500)
    expect(viewer.locator("#status")).to_have_text("deleted")


def test_the_lifetime_chosen_is_the_streams(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    expect(writer.locator("#expires")).to_contain_text("Expires")
    first = share_link(writer)
    options = writer.locator("#lifetime option").all_text_contents()
    assert options == ["1 hour", "1 day", "7 days", "30 days"]
    assert writer.input_value("#lifetime") == "86400"

    writer.select_option("#lifetime", label="7 days")  # nothing streamed yet: a new stream with it
    expect(writer.locator("#share-link")).not_to_have_value(first)
    expect(writer.locator("#status")).to_have_text("live")
    room = room_of(writer)
    history = writer.request.get(f"{server.url}/api/rooms/{room}/history").json()
    assert abs(history["expires_at"] - (time.time() + 7 * 86400)) < 120

    focus_editor(writer)
    writer.keyboard.type("now it has text")
    writer.select_option("#lifetime", label="1 hour")  # for the next stream: this one keeps its link
    expect(writer.locator("#expires")).to_contain_text("new streams: 1 hour")
    assert room_of(writer) == room
    writer.get_by_role("button", name="New stream").click()
    expect(writer.locator("#status")).to_have_text("live")
    history = writer.request.get(f"{server.url}/api/rooms/{room_of(writer)}/history").json()
    assert abs(history["expires_at"] - (time.time() + 3600)) < 120
