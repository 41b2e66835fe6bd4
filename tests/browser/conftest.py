"""One real server for every dashboard test (started the README's way), one
Chromium, and a logged-in browser per viewport: `page` runs a test at 1400x900
and at 390x844. Package-scoped: Playwright's sync API keeps an event loop
running in the main thread, which must be gone before the asyncio tests run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from harness.server import Server
from tests.browser.chromium import ADMIN, PASSWORD, Api, launch, log_in, new_context


@pytest.fixture(scope="package")
def dashboard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("dashboard")
    srv = Server(
        base / "data",
        base / "server.log",
        env={
            "SPYGLASS_ADMIN_USER": ADMIN,
            "SPYGLASS_ADMIN_PASSWORD": PASSWORD,
            # A crashed worker is declared dead within seconds (the workers view test).
            "SPYGLASS_HEARTBEAT_SECONDS": "1",
            "SPYGLASS_WORKER_DEAD_AFTER_SECONDS": "4",
        },
    ).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture(scope="package")
def api(dashboard_server: Server) -> Api:
    return Api(dashboard_server)


@pytest.fixture(scope="package")
def logged_in(browser: Browser, dashboard_server: Server) -> Iterator[dict[str, BrowserContext]]:
    contexts = {}
    for viewport in ("wide", "phone"):
        context = new_context(browser, viewport)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=dashboard_server.base_url)
        tab = context.new_page()
        log_in(tab, dashboard_server.base_url)
        tab.close()
        contexts[viewport] = context
    yield contexts
    for context in contexts.values():
        context.close()


@pytest.fixture(params=["wide", "phone"])
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def page(logged_in: dict[str, BrowserContext], viewport: str) -> Iterator[Page]:
    """A new tab of a logged-in admin, at each viewport."""
    tab = logged_in[viewport].new_page()
    yield tab
    tab.close()


@pytest.fixture
def wide_page(logged_in: dict[str, BrowserContext]) -> Iterator[Page]:
    """A new tab of a logged-in admin, on a wide screen only (behaviour that does not
    depend on the layout)."""
    tab = logged_in["wide"].new_page()
    yield tab
    tab.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
