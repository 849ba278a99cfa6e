"""Writer to viewers through a real browser: what a writer does with the keyboard reaches
every viewer's Monaco model exactly."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.pages import (
    focus_editor,
    language,
    open_viewer,
    open_writer,
    share_link,
    stats,
    text,
    wait_equal,
    wait_text,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


def big_text(size: int = 100 * 1024) -> str:
    line = "let value_{:05d} = 'pasted text, ümlaut and 😀 emoji';\n"
    lines, total = [], 0
    while total < size:
        lines.append(line.format(len(lines)))
        total += len(lines[-1])
    return "".join(lines)


def test_keyboard_edits_reach_two_viewers_exactly(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewers = [open_viewer(context, share_link(writer)) for _ in range(2)]
    for viewer in viewers:
        expect(viewer.locator("#status")).to_have_text("live")
    expect(writer.locator("#viewers")).to_have_text("2 viewers")

    focus_editor(writer)
    keys = writer.keyboard
    keys.type("alpha")
    keys.press("Escape")  # close the suggestion box so Enter is a new line
    keys.press("Enter")
    keys.press("Tab")
    keys.type("beta 😀 gamma")
    keys.press("Escape")
    keys.press("Enter")
    keys.type("foo = foo + 1")
    keys.press("Escape")
    assert text(writer) == "alpha\n    beta 😀 gamma\n    foo = foo + 1"
    wait_equal(writer, *viewers)

    # Multi-cursor: select "foo", add its next occurrence, and type over both at once.
    keys.press("Home")
    keys.press("Control+d")
    keys.press("Control+d")
    keys.type("bar")
    keys.press("Escape")
    assert text(writer) == "alpha\n    beta 😀 gamma\n    bar = bar + 1"
    wait_equal(writer, *viewers)

    # Paste 100 KB at the end, then undo and redo it.
    pasted = big_text()
    writer.evaluate("t => navigator.clipboard.writeText(t)", pasted)
    keys.press("Control+End")
    keys.press("Enter")
    keys.press("Control+v")  # the browser reads the clipboard, then pastes
    writer.wait_for_function("t => codestream.model.getValue().includes(t)", arg=pasted)
    wait_equal(writer, *viewers)
    keys.press("Control+z")
    assert pasted not in text(writer)
    wait_equal(writer, *viewers)
    keys.press("Control+Shift+z")
    assert pasted in text(writer)
    final = wait_equal(writer, *viewers)
    assert len(final) > 100 * 1024

    writer.select_option("#language", "python")
    for viewer in viewers:
        viewer.wait_for_function("() => codestream.model.getLanguageId() === 'python'")
        assert language(viewer) == language(writer) == "python"
        expect(viewer.locator("#language-name")).to_have_text("Python")
        assert text(viewer) == final
        # One full on joining, then deltas only: no edit needed the whole text again.
        assert stats(viewer) == {"fulls": 1, "deltas": stats(writer)["deltas"], "syncRequests": 0}


def test_pacing_sends_at_once_when_idle_and_coalesces_fast_typing(
    context: BrowserContext, server: RunningServer
) -> None:
    window_ms = 300  # wider than the default 50 ms, so Playwright's typing (~40 ms a key) is "fast"
    writer = context.new_page()
    writer.goto(f"{server.url}/?sendWindowMs={window_ms}")
    expect(writer.locator("#status")).to_have_text("live")
    assert writer.evaluate("codestream.config.sendWindowMs") == window_ms
    focus_editor(writer)
    all_sent = "() => !codestream.session.pending.length && !codestream.session.pacer.scheduled"

    # Once a window has passed since the last send (the click above moved the cursor)...
    writer.wait_for_function("w => performance.now() - codestream.session.pacer.last > w", arg=window_ms)
    writer.keyboard.press("a")  # ...the line is idle: this goes at once, not at the window's end
    writer.wait_for_function(all_sent)
    assert stats(writer)["deltas"] == 1 and stats(writer)["delayMs"] < window_ms / 3

    typed = "coalesced"
    writer.keyboard.type(typed)
    writer.wait_for_function(all_sent)
    sent = stats(writer)["deltas"] - 1
    assert 1 <= sent < len(typed)  # several keystrokes shared a message
    assert stats(writer)["maxDelayMs"] >= window_ms / 2  # ...because it waited for the window


def test_viewer_who_comes_after_the_writer_left_sees_everything(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    link = share_link(writer)
    focus_editor(writer)
    writer.keyboard.type("written before anyone watched")
    writer.keyboard.press("Escape")
    writer.keyboard.press("Enter")
    writer.keyboard.type("second line")
    writer.select_option("#language", "markdown")
    probe = open_viewer(context, link)  # the server has it all once a viewer does
    probe.wait_for_function("() => codestream.model.getLanguageId() === 'markdown'")
    written = wait_equal(writer, probe)
    probe.close()
    writer.close()

    viewer = open_viewer(context, link)
    expect(viewer.locator("#status")).to_have_text("writer offline")
    expect(viewer.locator("#viewers")).to_have_text("1 viewer")
    wait_text(viewer, written)
    assert language(viewer) == "markdown"


def test_typing_into_a_viewer_changes_nothing(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    writer.keyboard.type("the stream")
    streamed = wait_equal(writer, viewer)

    focus_editor(viewer)
    viewer.evaluate("t => navigator.clipboard.writeText(t)", "pasted by a viewer")
    for key in ("a", "Enter", "Backspace", "Delete", "Control+v", "Control+x", "Control+z", "Control+Shift+z"):
        viewer.keyboard.press(key)
    viewer.keyboard.type("typed by a viewer")
    assert text(viewer) == streamed
    assert viewer.evaluate("codestream.model.canUndo()") is False  # the stream left nothing to undo

    # The stream goes on undisturbed, and the viewer's undo still cannot touch it.
    focus_editor(writer)
    writer.keyboard.press("Control+End")
    writer.keyboard.type(" goes on")
    final = wait_equal(writer, viewer)
    focus_editor(viewer)
    viewer.keyboard.press("Control+z")
    assert text(viewer) == final == "the stream goes on"


def test_a_lost_delta_and_a_refused_delta_both_heal(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    writer.keyboard.type("start")
    wait_equal(writer, viewer)
    sent = stats(writer)["deltas"]

    # The viewer misses one delta: later ones wait behind the gap, then it asks for `sync`.
    viewer.evaluate(
        """() => { const s = codestream.session, stream = s.stream.bind(s); let lost = false;
        s.stream = (data) => { if (!lost && data.type === 'delta') { lost = true; return; } stream(data); }; }"""
    )
    writer.keyboard.type(" one")
    writer.wait_for_function("n => codestream.session.stats.deltas > n", arg=sent)
    writer.keyboard.type(" two")
    wait_equal(writer, viewer)
    assert stats(viewer)["syncRequests"] >= 1 and stats(viewer)["fulls"] >= 2

    # The server cannot apply one of the writer's deltas (its offsets are off): it refuses it
    # and asks the writer for its whole text, which brings every viewer back in line.
    fulls = stats(writer)["fulls"]
    writer.evaluate(
        """() => { const link = codestream.session.link, send = link.send.bind(link); let broken = false;
        link.send = (data, room) => { if (!broken && data.type === 'delta') { broken = true;
          data = {...data, changes: [{changes: [{rangeOffset: 10 ** 6, rangeLength: 0, text: 'x'}]}]}; }
          return send(data, room); }; }"""
    )
    writer.keyboard.type(" three")
    writer.wait_for_function("n => codestream.session.stats.fulls > n", arg=fulls)
    assert wait_equal(writer, viewer) == "start one two three"
