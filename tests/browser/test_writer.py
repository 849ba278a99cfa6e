"""The writer's page: a reload resumes the same stream, "New stream" starts another, and the
controls work from the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.pages import focus_editor, open_viewer, open_writer, share_link, text, wait_equal
from tests.support.server import RunningServer

pytestmark = pytest.mark.browser


def test_reload_resumes_the_stream_and_new_stream_starts_another(
    context: BrowserContext, server: RunningServer
) -> None:
    writer = open_writer(context, server.url)
    link = share_link(writer)
    viewer = open_viewer(context, link)
    focus_editor(writer)
    writer.keyboard.type("kept across a reload")
    wait_equal(writer, viewer)

    writer.reload()
    expect(writer.locator("#status")).to_have_text("live")
    assert share_link(writer) == link
    writer.wait_for_function("() => codestream.model.getValue() === 'kept across a reload'")
    focus_editor(writer)
    writer.keyboard.press("Control+End")
    writer.keyboard.type(", and more")
    assert wait_equal(writer, viewer) == "kept across a reload, and more"  # the viewer was not orphaned
    expect(writer.locator("#viewers")).to_have_text("1 viewer")

    writer.get_by_role("button", name="New stream").click()
    expect(writer.locator("#status")).to_have_text("live")
    expect(writer.locator("#share-link")).not_to_have_value(link)
    assert text(writer) == ""
    expect(viewer.locator("#status")).to_have_text("writer offline")  # the old stream's writer left


def test_share_link_is_copied_from_the_keyboard(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    writer.locator("body").focus()
    for _ in range(10):  # Tab through the controls to the copy button
        writer.keyboard.press("Tab")
        if writer.evaluate("document.activeElement.id") == "copy-link":
            break
    writer.keyboard.press("Enter")
    expect(writer.get_by_role("button", name="Copied")).to_be_visible()
    assert writer.evaluate("navigator.clipboard.readText()") == share_link(writer)


def test_a_second_tab_with_the_writer_key_takes_over(context: BrowserContext, server: RunningServer) -> None:
    first = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(first))
    focus_editor(first)
    first.keyboard.type("from the first tab")
    wait_equal(first, viewer)

    # The same writer key in another tab (say, the link to the writer page copied with its key).
    grant = first.evaluate("({room_id, writer_key} = codestream.session.link.grant, {room_id, writer_key})")
    second = context.new_page()
    second.goto(server.url + "/config.json")  # any page of the site, to reach its session storage
    second.evaluate("g => sessionStorage.setItem('codestream.writer', JSON.stringify(g))", grant)
    second.goto(server.url + "/")
    expect(second.locator("#status")).to_have_text("live")
    assert share_link(second) == share_link(first)
    second.wait_for_function("() => codestream.model.getValue() === 'from the first tab'")  # it took the text

    expect(first.locator("#status")).to_have_text("opened elsewhere")  # and stays so: no tug of war
    expect(first.locator("#notice")).to_contain_text("elsewhere")
    focus_editor(second)
    second.keyboard.press("Control+End")
    second.keyboard.type(", then the second")
    assert wait_equal(second, viewer) == "from the first tab, then the second"
    expect(first.locator("#status")).to_have_text("opened elsewhere")
