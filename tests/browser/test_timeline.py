"""The viewer's timeline: scrubbing shows the text of that moment, playback at speed with
idle gaps shortened, jumping back to live while the writer types, and the writer's markers."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.pages import (
    focus_editor,
    history_loaded,
    live_text,
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

WORDS = ["alpha ", "beta ", "gamma ", "delta"]
# Where on the slider (0 to 1) the middle one of the writer's deltas is.
MIDDLE_DELTA = """() => { const t = codestream.session.timeline;
    const deltas = t.replay.entries.map((e, i) => [e, i]).filter(([e]) => e.message.type === 'delta');
    const [, index] = deltas[Math.floor(deltas.length / 2)];
    return (t.times[index] + 0.01) / t.duration; }"""


def slider(page: Page) -> dict[str, str | None]:
    handle = page.locator("#scrubber")
    return {name: handle.get_attribute(name) for name in ("aria-valuenow", "aria-valuemax", "aria-valuetext")}


def writer_and_viewer(context: BrowserContext, server: RunningServer, words: list[str]) -> tuple[Page, Page]:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    type_slowly(writer, words)
    wait_equal(writer, viewer)
    history_loaded(viewer)
    return writer, viewer


def test_scrubbing_shows_the_text_of_each_moment_with_its_colours_and_cursor(
    context: BrowserContext, server: RunningServer
) -> None:
    writer, viewer = writer_and_viewer(context, server, WORDS)
    final = text(writer)
    expect(viewer.locator("#live-badge")).to_be_visible()
    scrubber = viewer.get_by_role("slider", name="Stream time")
    scrubber.focus()
    viewer.keyboard.press("Home")
    assert text(viewer) == ""
    expect(viewer.locator("#live-badge")).to_be_hidden()
    expect(viewer.locator("#behind")).to_contain_text("edits behind")
    assert slider(viewer)["aria-valuenow"] == "0"

    # Each ArrowRight is one edit further: every text on the way is a longer start of the final one.
    seen = [text(viewer)]
    for _ in range(200):
        viewer.keyboard.press("ArrowRight")
        if viewer.evaluate("codestream.session.timeline.atLive"):
            break
        seen.append(text(viewer))
        assert final.startswith(seen[-1]) and len(seen[-1]) > len(seen[-2]), seen[-2:]
    assert len(seen) > len(WORDS)  # the writer's bursts are distinct moments
    expect(viewer.locator("#live-badge")).to_be_visible()  # the last step is live again
    assert text(viewer) == final

    # Dragging to the middle shows a moment between: highlighted as JavaScript, with the writer's caret.
    box = scrubber.bounding_box()
    assert box is not None
    fraction = viewer.evaluate(MIDDLE_DELTA)
    viewer.mouse.click(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
    middle = text(viewer)
    assert 0 < len(middle) < len(final) and final.startswith(middle)
    assert viewer.evaluate("codestream.model.getLanguageId()") == "javascript"
    expect(viewer.locator(".monaco-editor .mtk1, .monaco-editor [class*='mtk']").first).to_be_visible()
    expect(viewer.locator(".writer-cursor")).to_be_visible()
    caret = viewer.evaluate(
        """() => codestream.model.getAllDecorations().filter(d => d.options.beforeContentClassName === 'writer-cursor')
            .map(d => codestream.model.getOffsetAt(d.range.getStartPosition()))"""
    )
    assert caret == [len(middle)]  # the writer's caret as it was then: after the text typed so far
    values = slider(viewer)
    assert values["aria-valuetext"] and "version" in values["aria-valuetext"]
    assert 0 < int(values["aria-valuenow"] or 0) <= int(values["aria-valuemax"] or 0)


def test_play_at_eight_times_with_the_idle_gap_shortened(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    writer.keyboard.type("before the pause")
    writer.wait_for_timeout(6000)  # idle: the timeline spans it as 3 s
    writer.keyboard.type(", after")
    wait_equal(writer, viewer)
    viewer.get_by_role("slider", name="Stream time").focus()  # focus loads what came since
    history_loaded(viewer)
    viewer.keyboard.press("Home")
    duration, real_span = viewer.evaluate(
        """() => { const t = codestream.session.timeline, e = t.replay.entries;
            return [t.duration, e.at(-1).at - e[0].at]; }"""
    )
    assert duration < real_span - 2, (duration, real_span)  # the 6 s pause spans 3 s

    viewer.select_option("#speed", "8")
    began = time.monotonic()
    viewer.get_by_role("button", name="Play from here").click()
    expect(viewer.get_by_role("button", name="Pause the replay")).to_be_visible()
    viewer.wait_for_function("() => codestream.model.getValue().startsWith('before')")
    # At the end of a live stream the replay goes live.
    expect(viewer.locator("#live-badge")).to_be_visible(timeout=10_000)
    took = time.monotonic() - began
    assert text(viewer) == "before the pause, after"
    assert took < duration / 2, (took, duration)  # faster than 2x: 8x, give or take a loaded machine


def test_jump_to_live_shows_the_present_text_while_the_writer_types(
    context: BrowserContext, server: RunningServer
) -> None:
    writer, viewer = writer_and_viewer(context, server, ["first ", "second "])
    viewer.get_by_role("slider", name="Stream time").focus()
    viewer.keyboard.press("Home")
    assert text(viewer) == ""

    type_slowly(writer, ["third ", "fourth"])
    expected = text(writer)
    # Back in time, the live document still follows the writer, and the count of edits grows.
    viewer.wait_for_function("expected => codestream.session.model.getValue() === expected", arg=expected)
    assert text(viewer) == ""
    behind = viewer.locator("#behind-count")
    expect(behind).to_have_text(re.compile(r"^\d+ edits? behind$"))
    viewer.wait_for_function("least => parseInt(document.getElementById('behind-count').textContent) >= least", arg=2)

    viewer.get_by_role("button", name="Jump to live").click()
    assert text(viewer) == expected  # at once: no waiting for the server
    expect(viewer.locator("#live-badge")).to_be_visible()
    expect(viewer.locator("#behind")).to_be_hidden()
    writer.keyboard.type(" and on")
    wait_equal(writer, viewer)
    assert live_text(viewer) == text(viewer)


def test_markers_are_on_the_timeline_and_take_the_viewer_there(context: BrowserContext, server: RunningServer) -> None:
    writer, viewer = writer_and_viewer(context, server, ["setup();"])
    before_marker = text(writer)
    writer.keyboard.press("Alt+Shift+M")
    label = writer.get_by_label("Marker label")
    expect(label).to_be_focused()
    label.fill("Tests pass 🎉")
    label.press("Enter")
    expect(writer.get_by_role("button", name="Marker added")).to_be_visible()
    focus_editor(writer)
    writer.keyboard.press("Control+End")
    type_slowly(writer, ["\nrun();", "\ndone();"])
    wait_equal(writer, viewer)

    marker = viewer.get_by_role("button", name="Marker: Tests pass 🎉", exact=False)
    expect(marker).to_have_count(1)
    # Reachable by keyboard: a button in the tab order; Enter takes the viewer there.
    marker.focus()
    expect(viewer.locator(".marker-tip")).to_have_text("Tests pass 🎉")
    viewer.keyboard.press("Enter")
    wait_text(viewer, before_marker)
    expect(viewer.locator("#behind")).to_be_visible()
    viewer.get_by_role("button", name="Jump to live").click()
    assert text(viewer) == text(writer)
