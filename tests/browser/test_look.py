"""How the pages look: labelled controls, readable contrast in both themes, a phone-sized
viewer, and the screenshots (test-artifacts/, and docs/ when asked)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.pages import open_viewer, open_writer, share_link, wait_equal
from tests.support.server import ROOT, RunningServer

pytestmark = pytest.mark.browser

SAMPLE = '''"""Stream code live with codestream."""


def fibonacci(n: int) -> list[int]:
    numbers = [0, 1]
    while len(numbers) < n:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:n]


if __name__ == "__main__":
    for value in fibonacci(10):
        print(value)
'''

# Every visible control's accessible name, and the contrast of what it says against its background.
AUDIT = """() => {
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (color) => color.match(/[\\d.]+/g).map(Number);
  const background = (element) => {
    for (let e = element; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const name = (e) => (e.getAttribute('aria-label') || (e.labels && [...e.labels].map((l) => l.textContent).join(' '))
    || e.textContent || '').trim();
  const visible = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const bars = '.bar, .timeline'; // the header, the writer's stream bar, the viewer's timeline
  const controls = [...document.querySelectorAll(['button', 'input', 'select', '[role=slider]']
    .map((c) => `:is(${bars}) ${c}`).join(','))].filter(visible);
  const texts = [...document.querySelectorAll(`:is(${bars}) *`)].filter((e) => visible(e) && [...e.childNodes].some(
    (n) => n.nodeType === 3 && n.textContent.trim()));
  return {
    unnamed: controls.filter((e) => !name(e)).map((e) => e.outerHTML),
    contrast: texts.map((e) => {
      const [a, b] = [luminance(parse(getComputedStyle(e).color).slice(0, 3)), luminance(background(e))];
      return {text: e.textContent.trim().slice(0, 30), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
    }),
  };
}"""


def audit(page: Page) -> None:
    result = page.evaluate(AUDIT)
    assert result["unnamed"] == []
    assert result["contrast"], "no text found in the bars"
    low = [item for item in result["contrast"] if item["ratio"] < 4.5]
    assert low == [], f"text below 4.5:1 contrast in the {page.evaluate('document.body.dataset.theme')} theme"


def test_controls_are_labelled_and_readable_in_both_themes(context: BrowserContext, server: RunningServer) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    expect(viewer.locator("#status")).to_have_text("live")
    for page in (writer, viewer):
        for theme in ("light", "dark"):
            if page.evaluate("document.body.dataset.theme") != theme:
                page.get_by_role("button", name=f"{theme.title()} theme").click()
            expect(page.locator("body")).to_have_attribute("data-theme", theme)
            monaco_theme = "vs-dark" if theme == "dark" else "vs"
            expect(page.locator(".monaco-editor").first).to_contain_class(monaco_theme)
            audit(page)
    for name in ("Share link", "Language"):
        expect(writer.get_by_label(name, exact=True)).to_be_visible()
    for role, name in (("button", "Copy link"), ("button", "New stream"), ("button", "Add marker")):
        expect(writer.get_by_role(role, name=name)).to_be_visible()
    for role, name in (("button", "End stream"), ("button", "Delete stream"), ("combobox", "Lifetime")):
        expect(writer.get_by_role(role, name=name)).to_be_visible()
    expect(viewer.get_by_role("slider", name="Stream time")).to_be_visible()
    expect(viewer.get_by_role("button", name="Export")).to_be_visible()
    expect(viewer.get_by_role("checkbox", name="Follow the writer")).to_be_visible()
    expect(viewer.get_by_role("button", name="Download")).to_be_visible()
    expect(viewer.get_by_role("status")).to_have_text("live")

    # The read-only editor does not trap the keyboard: Tab leaves it.
    viewer.locator(".monaco-editor .view-lines").click()
    assert viewer.evaluate("document.getElementById('editor').contains(document.activeElement)")
    viewer.keyboard.press("Tab")
    assert not viewer.evaluate("document.getElementById('editor').contains(document.activeElement)")


def save(page: Page, name: str, artifacts: Path) -> None:
    path = artifacts / name
    # No focus ring on a button in the picture; the writer's editor keeps its focus.
    page.evaluate(
        "() => document.getElementById('editor').contains(document.activeElement) || document.activeElement.blur()"
    )
    page.screenshot(path=path)
    assert path.stat().st_size > 10_000  # a real picture, not an empty page
    if os.environ.get("CODESTREAM_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(path, ROOT / "docs" / name)


def test_screenshots_of_writer_and_viewer_and_a_phone_sized_viewer(
    browser: Browser, context: BrowserContext, server: RunningServer, artifacts: Path
) -> None:
    writer = open_writer(context, server.url)
    viewer = open_viewer(context, share_link(writer))
    viewer.get_by_role("button", name="Dark theme").click()
    writer.select_option("#language", "python")
    writer.evaluate("text => codestream.model.setValue(text)", SAMPLE)  # a whole file at once, as if opened
    writer.locator(".monaco-editor .view-lines").click()
    for key in ("Control+Home", "ArrowDown", "ArrowDown", "ArrowDown", "End", "Shift+Home"):
        writer.keyboard.press(key)
    wait_equal(writer, viewer)
    expect(viewer.locator(".writer-cursor")).to_be_visible()
    expect(viewer.locator("#language-name")).to_have_text("Python")
    save(writer, "writer.png", artifacts)
    save(viewer, "viewer.png", artifacts)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        small = open_viewer(phone, share_link(writer))
        wait_equal(writer, small)
        expect(small.locator("#status")).to_have_text("live")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390  # nothing off the side
        editor = small.locator("#editor").bounding_box()
        assert editor is not None and editor["height"] > 844 / 2
        for control in ("Follow the writer", "Download", "Dark theme"):
            box = small.get_by_text(control).bounding_box()
            assert box is not None and box["x"] + box["width"] <= 390
        save(small, "viewer-phone.png", artifacts)
    finally:
        phone.close()
