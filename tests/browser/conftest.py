"""On a failed browser test: a screenshot of the page and the server's log in test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(
    os.environ.get("WEBULL_NB_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


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
