"""A real ``tokenward serve`` and Debian's Chromium, one of each for the whole run.

No test here is skipped: without /usr/bin/chromium the run fails and says how to install it
(CI's ``.ci/run`` installs it; no browser is ever downloaded).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.helpers import TOKENWARD, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN = "console-test-root-credential-0123456789abcdef"
ROOT = {"Authorization": f"Bearer {ADMIN}"}


class Server:
    """``tokenward serve`` on a free port of 127.0.0.1, with its own data directory."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"serve-{self.port}.log"
        self.start()

    def start(self) -> None:
        environment = {
            **os.environ,
            "TOKENWARD_DATA_DIR": str(self.data_dir),
            "TOKENWARD_ADMIN_TOKEN": ADMIN,
            **self.env,
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(TOKENWARD), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 90  # a loaded CI machine starts it slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not become healthy:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def issue(self, tenant: str = "default", **fields: Any) -> dict[str, Any]:
        with self.api() as http:
            created = http.post(f"/v1/tenants/{tenant}/tokens", json=fields, headers=ROOT)
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    def verify(self, secret: str) -> dict[str, Any]:
        with self.api() as http:
            body: dict[str, Any] = http.post("/v1/verify", json={"token": secret}).json()
        return body


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Usage counts reach the store twice a second, so a chart shows a verification soon.
    running = Server(
        tmp_path_factory.mktemp("console") / "data", TOKENWARD_USAGE_FLUSH_SECONDS="0.5"
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Screenshots of the pages, kept after the run (``TOKENWARD_CONSOLE_ARTIFACTS``)."""
    chosen = os.environ.get("TOKENWARD_CONSOLE_ARTIFACTS")
    directory = Path(chosen) if chosen else Path(tempfile.gettempdir()) / "tokenward-console"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# The package, not the session: the sync API runs an event loop in this thread while it
# lives, and a later module's asyncio.run() in the same process must find none.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); "
            "the console's tests run in a real browser",
            pytrace=False,
        )
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    """A fresh browser profile for each test: its own cookies, so its own session."""
    fresh = browser.new_context(base_url=server.url)
    fresh.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, credential: str) -> None:
    page.goto("/console/")
    page.get_by_label("Credential").fill(credential)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/t/**")
