"""Browser fixtures: Debian's Chromium driven by Playwright for Python; never a downloaded browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.server import ROOT, RunningServer

# This machine's network is closed: keep Chromium from calling home at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DIST_INDEX = ROOT / "static_site" / "dist" / "index.html"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """Debian's Chromium and the built client: `make test` provides both, so their absence fails."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "no `chromium` on PATH: `make test` installs Debian's when run as root, else apt-get install chromium "
            "(the tests never download a browser)",
            pytrace=False,
        )
    if not DIST_INDEX.is_file():
        pytest.fail("static_site/dist is not built: `make test` builds it (npm ci && npm run build)", pytrace=False)
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile; fails the test on an uncaught page error or a Content-Security-Policy refusal."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    problems: list[str] = []

    def watch(page: Page) -> None:
        page.on("pageerror", lambda error: problems.append(f"{page.url}: uncaught {error}"))
        page.on(
            "console",
            lambda message: (
                problems.append(f"{page.url}: {message.text}") if "Content Security Policy" in message.text else None
            ),
        )

    context.on("page", watch)
    yield context
    context.close()
    assert not problems, problems


@pytest.fixture
def server(host: RunningServer) -> RunningServer:
    """Every browser test that takes `server` runs on each host (tests/support/hosts.py)."""
    return host


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
