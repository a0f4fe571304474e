"""Browser fixtures: Debian's Chromium driven by Playwright over the shared local stack, which
serves the built console (``make console``) beside the API, as ``make run`` does.

Every test gets a fresh browser context (its own ``sessionStorage``) and a `Console` that
fails the test on a console error, an uncaught exception, or a request to any host but the
stack's loopback address (the API, and moto for presigned uploads and downloads).
Screenshots go to ``build/console-screenshots/<test>/`` (never committed).
"""

from __future__ import annotations

import asyncio
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from tests.e2e.accounts import PASSWORD
from tests.e2e.conftest import CONSOLE_DIR, ROOT

CHROMIUM = Path(os.environ.get("AIAAS_CHROMIUM", "/usr/bin/chromium"))
SHOTS = ROOT / "build" / "console-screenshots"
TIMEOUT_MS = 60_000  # the machines are slow and shared: wait on visible state, generously
# Chromium logs a fetch that got a 4xx as a console error; tests that expect one allow it.
HTTP_ERROR_LOG = "Failed to load resource: the server responded with a status of 4"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests (Playwright's own download needs the internet).

    Package-scoped: Playwright's sync API keeps an asyncio loop running in the main thread
    while it is started, and every later test that drives a handler through Mangum
    (``run_until_complete``) would fail with "This event loop is already running". So it
    stops after the last browser test, and a fresh loop is set for the tests after it.
    """
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("AIAAS_REQUIRE_BROWSER"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    if not (CONSOLE_DIR / "index.html").is_file():
        pytest.fail(f"no console at {CONSOLE_DIR}: run `make console`", pytrace=False)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()
    asyncio.set_event_loop(asyncio.new_event_loop())


@dataclass
class Console:
    """A page of the console and what it did wrong."""

    page: Any
    base_url: str
    shots: Path
    problems: list[str] = field(default_factory=list)
    allow_http_errors: bool = False

    def goto(self, route: str) -> None:
        """Open a console route (``#/keys``) and wait for its heading."""
        self.page.goto(f"{self.base_url}/{route}")
        self.page.locator("main h1").first.wait_for()

    def shot(self, name: str) -> Path:
        """A full-page screenshot under the test's directory."""
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def readme_shot(self, name: str, selector: str | None = None) -> Path:
        """A small PNG for the README (256 colours, under 200 KB): the viewport, or one
        element. Saved under ``build/console-screenshots/readme/``; committed by hand."""
        target = self.page.locator(selector).first if selector else self.page
        image = Image.open(io.BytesIO(target.screenshot())).convert("RGB")
        path = SHOTS / "readme" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        assert path.stat().st_size < 200_000, f"{path} is {path.stat().st_size} bytes"
        return path

    def axe(self) -> None:
        """axe-core (bundled by make console) on the page: no critical violations."""
        self.page.add_script_tag(path=str(CONSOLE_DIR / "vendor" / "axe.min.js"))
        critical = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                 .filter((v) => v.impact === "critical")
                 .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`)"""
        )
        assert not critical, critical

    def log_in(self, email: str, password: str = PASSWORD) -> None:
        """Log in through the login page; wait for the models page."""
        self.goto("#/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.locator("li.card").first.wait_for()

    def watch(self, message: Any) -> None:
        if message.type != "error":
            return
        if self.allow_http_errors and message.text.startswith(HTTP_ERROR_LOG):
            return
        self.problems.append(f"console error: {message.text}")

    def check_host(self, request: Any) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http", "ws")) and host != urlsplit(self.base_url).hostname:
            self.problems.append(f"request to another host: {request.url}")


@pytest.fixture
def console(browser: Any, local_stack: str, request: pytest.FixtureRequest) -> Iterator[Console]:
    """A fresh context and page on the local stack; its problems fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    shots = SHOTS / request.node.name
    shots.mkdir(parents=True, exist_ok=True)
    console = Console(page, local_stack, shots)
    page.on("console", console.watch)
    page.on("pageerror", lambda error: console.problems.append(f"uncaught: {error}"))
    page.on("request", console.check_host)
    yield console
    context.close()
    assert not console.problems, "\n".join(console.problems)


@pytest.fixture
def user(local_stack: str) -> str:
    """A new account's email (signed up through the API; the password is `PASSWORD`)."""
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=local_stack, timeout=60) as client:
        answer = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return email
