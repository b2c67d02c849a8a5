"""The browser tests' Chromium (one per test), and on a failure: a screenshot of the page and
the server's log in test-artifacts/."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from chromium import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (its own browsers are never installed)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Keep what shows why a browser test failed."""
    report = yield
    opened = getattr(item, "wnb_page", None)
    if report.when == "call" and report.failed and opened is not None:
        page, server = opened
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"\W+", "-", item.name).strip("-")
        try:
            page.screenshot(path=str(ARTIFACTS / f"failure-{stem}.png"), full_page=True)
        except Exception as exc:  # the page may be gone; the log still helps
            print(f"no failure screenshot: {exc}")
        shutil.copyfile(server.log, ARTIFACTS / f"failure-{stem}.log")
        print(f"failure artifacts in {ARTIFACTS}")
    return report
