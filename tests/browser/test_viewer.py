"""What a viewer sees besides the text: the writer's cursor, following it, the file download."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.pages import focus_editor, open_viewer, open_writer, share_link, text, wait_equal
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser

DECORATIONS = """() => codestream.model.getAllDecorations()
    .map(d => ({kind: d.options.beforeContentClassName || d.options.className, range: [
        d.range.startLineNumber, d.range.startColumn, d.range.endLineNumber, d.range.endColumn]}))
    .filter(d => ['writer-cursor', 'writer-selection'].includes(d.kind))
    .sort((a, b) => a.kind.localeCompare(b.kind))"""


def writer_marks(viewer: Page, expected: list[dict[str, object]]) -> None:
    viewer.wait_for_function(
        f"expected => JSON.stringify(({DECORATIONS})()) === JSON.stringify(expected)", arg=expected
    )


def screen_position(page: Page, line: int, column: int) -> dict[str, float]:
    return page.evaluate(
        """([lineNumber, column]) => {
            const editor = codestream.editor;
            const at = editor.getScrolledVisiblePosition({lineNumber, column});
            const box = editor.getDomNode().getBoundingClientRect();
            return {x: box.left + at.left, y: box.top + at.top, height: at.height};
        }""",
        [line, column],
    )


def test_writer_cursor_and_selection_show_at_the_right_place(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    focus_editor(writer)
    for line in ("first line", "second line"):
        writer.keyboard.type(line)
        writer.keyboard.press("Escape")
        writer.keyboard.press("Enter")
    writer.keyboard.type("third")
    writer.keyboard.press("Escape")
    wait_equal(writer, viewer)

    # Select "second line" from its end back to its start: the caret (head) is at line 2, column 1.
    for key in ("Control+Home", "ArrowDown", "End", "Shift+Home"):
        writer.keyboard.press(key)
    writer_marks(
        viewer,
        [{"kind": "writer-cursor", "range": [2, 1, 2, 1]}, {"kind": "writer-selection", "range": [2, 1, 2, 12]}],
    )
    caret = viewer.locator(".writer-cursor")
    expect(caret).to_be_visible()
    box = caret.bounding_box()
    assert box is not None
    where = screen_position(viewer, 2, 1)
    assert abs(box["y"] - where["y"]) <= 2 and abs(box["x"] - where["x"]) <= 3
    expect(viewer.locator(".writer-selection")).to_be_visible()

    writer.keyboard.press("ArrowDown")  # collapses the selection, then moves to line 3
    writer.keyboard.press("End")
    writer_marks(viewer, [{"kind": "writer-cursor", "range": [3, 6, 3, 6]}])
    box = viewer.locator(".writer-cursor").bounding_box()
    where = screen_position(viewer, 3, 6)
    assert box is not None and abs(box["y"] - where["y"]) <= 2 and abs(box["x"] - where["x"]) <= 3


def visible_lines(page: Page) -> tuple[int, int]:
    first, last = page.evaluate(
        """() => { const ranges = codestream.editor.getVisibleRanges();
            return [ranges[0].startLineNumber, ranges.at(-1).endLineNumber]; }"""
    )
    return first, last


def test_following_the_writer_and_downloading(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    writer.select_option("#language", "python")
    lines = "".join(f"print({n})\n" for n in range(1, 301))
    writer.evaluate("t => navigator.clipboard.writeText(t)", lines)
    focus_editor(writer)
    writer.keyboard.press("Control+v")
    writer.wait_for_function("() => codestream.model.getLineCount() === 301")
    wait_equal(writer, viewer)

    # Following (the default): the viewer scrolls to where the writer's caret went.
    expect(viewer.get_by_label("Follow the writer")).to_be_checked()
    viewer.wait_for_function("() => codestream.editor.getVisibleRanges().at(-1).endLineNumber >= 300")

    # Not following: the writer jumps to the top, the viewer stays where it is.
    viewer.get_by_label("Follow the writer").uncheck()
    writer.keyboard.press("Control+Home")
    viewer.wait_for_function("() => codestream.session.cursor.selections[0].head === 0")
    assert visible_lines(viewer)[1] >= 300

    viewer.get_by_label("Follow the writer").check()
    viewer.wait_for_function("() => codestream.editor.getVisibleRanges()[0].startLineNumber === 1")

    with viewer.expect_download() as download_info:
        viewer.get_by_role("button", name="Download").click()
    download = download_info.value
    assert download.suggested_filename == "codestream.py"
    path = download.path()
    assert path.read_text(encoding="utf-8") == text(writer)


def test_a_link_to_an_unknown_stream_waits_for_its_writer(context: BrowserContext, server: RunningServer) -> None:
    viewer = open_viewer(context, f"{server.url}/#AAAAAAAAAAAAAAAAAAAAAA")
    expect(viewer.locator("#status")).to_have_text("waiting for the writer")
    assert text(viewer) == ""
