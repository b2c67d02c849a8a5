"""Where the browser tests find Debian's chromium, how they start it, where their files go.

Never ``playwright install``: CI installs Debian's ``chromium``. Shared by every module in
``tests/browser/`` (and its conftest.py, whose ``browser`` fixture launches it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("WEBULL_NB_CHROMIUM", "/usr/bin/chromium")
#: Screenshots and failure logs; the README's images in docs/img/ come from scripts/screenshots.
ARTIFACTS = Path(os.environ.get("WEBULL_NB_ARTIFACTS", ROOT / "test-artifacts"))
# A headless run in a container: no sandbox, no GPU, and nothing reaching out to the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip the calling test module where chromium is missing; fail instead in CI."""
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("WEBULL_NB_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"chromium not found at {CHROMIUM}; .ci/run installs it")
    pytest.skip(f"chromium not found at {CHROMIUM}", allow_module_level=True)
