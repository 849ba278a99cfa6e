"""What a test does with the two pages, through the page's `window.codestream` handle."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

TIMEOUT_MS = 30_000  # generous: a loaded CI machine runs two Monacos per core


def open_writer(context: BrowserContext, base_url: str) -> Page:
    page = context.new_page()
    page.goto(base_url + "/")
    expect(page.locator("#status")).to_have_text("live", timeout=TIMEOUT_MS)
    expect(page.locator("#share-link")).not_to_have_value("")
    return page


def share_link(writer: Page) -> str:
    return writer.input_value("#share-link")


def open_viewer(context: BrowserContext, link: str) -> Page:
    page = context.new_page()
    page.goto(link)
    page.wait_for_function("() => window.codestream && codestream.model", timeout=TIMEOUT_MS)
    return page


def focus_editor(page: Page) -> None:
    page.locator(".monaco-editor .view-lines").click()


def text(page: Page) -> str:
    return page.evaluate("codestream.model.getValue()")


def language(page: Page) -> str:
    return page.evaluate("codestream.model.getLanguageId()")


def stats(page: Page) -> dict[str, Any]:
    return page.evaluate("({...codestream.session.stats})")


def wait_text(page: Page, expected: str, timeout: float = TIMEOUT_MS) -> None:
    """Waits (polling, no sleep) until the page's Monaco model holds exactly `expected`."""
    try:
        page.wait_for_function(
            "expected => window.codestream && codestream.model && codestream.model.getValue() === expected",
            arg=expected,
            timeout=timeout,
        )
    except Exception:
        got = page.evaluate("window.codestream && codestream.model ? codestream.model.getValue() : null")
        assert got == expected, f"{page.url} never held the writer's text"
        raise


def wait_equal(writer: Page, *viewers: Page) -> str:
    """Each viewer's model ends equal to the writer's, character for character."""
    expected = text(writer)
    for viewer in viewers:
        wait_text(viewer, expected)
    return expected


def history_loaded(viewer: Page) -> None:
    """Waits until the viewer's timeline holds the history up to the text it shows live."""
    viewer.wait_for_function(
        """() => { const s = codestream.session;
            return s.tracker.version !== null && s.timeline.replay.lastVersion >= s.tracker.version; }""",
        timeout=TIMEOUT_MS,
    )


def live_text(viewer: Page) -> str:
    """The viewer's live document, whatever point of the timeline the editor shows."""
    return viewer.evaluate("codestream.session.model.getValue()")


def type_slowly(page: Page, words: list[str], pause_ms: int = 150) -> None:
    """Types each word as its own burst, so the history holds several distinct moments."""
    for word in words:
        page.keyboard.type(word)
        page.wait_for_timeout(pause_ms)
