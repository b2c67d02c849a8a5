"""The quickstart in a real browser: JupyterLab 4 and Notebook 7, driven like a person would.

Needs Debian's chromium (``/usr/bin/chromium``) and the ``playwright`` package; never
``playwright install``. Skipped where chromium is missing, unless WEBULL_NB_REQUIRE_BROWSER=1
(as in CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("WEBULL_NB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "img"

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists():
    if os.environ.get("WEBULL_NB_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"chromium not found at {CHROMIUM}; .ci/run installs it")
    pytest.skip(f"chromium not found at {CHROMIUM}", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")

FRONTENDS = {
    "lab": ("jupyterlab", "--LabApp.expose_app_in_browser=True", "lab/tree/quickstart.ipynb"),
    "notebook7": (
        "notebook",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "notebooks/quickstart.ipynb",
    ),
}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
KERNEL_STATUS = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return kernel ? kernel.status : 'none';
}"""
KERNEL_IDLE = f"() => ({KERNEL_STATUS})() === 'idle'"
KERNEL_BUSY = f"() => ({KERNEL_STATUS})() === 'busy'"
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
BUSY_CELL = """(code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  kernel.requestExecute({code: code});
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=list(FRONTENDS))
def server(request, tmp_path):
    name = request.param
    module, expose, path = FRONTENDS[name]
    root = tmp_path / "root"
    root.mkdir()
    shutil.copyfile(ROOT / "notebooks" / "quickstart.ipynb", root / "quickstart.ipynb")
    settings = tmp_path / "settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = free_port(), "webull-nb-browser-test"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    for variable in (
        "WEBULL_APP_KEY",
        "WEBULL_APP_SECRET",
        "WEBULL_NB_AUTOPILOT",
        "WEBULL_NB_SIMULATOR_URL",
    ):
        env.pop(variable, None)
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            expose,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/api/status?token={token}", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "the Jupyter server did not start"
        time.sleep(0.2)
    query = "?reset&token=" if name == "lab" else "?token="
    yield {"name": name, "url": f"{base}/{path}{query}{token}", "log": tmp_path / "server.log"}
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def countdown(page) -> int:
    """Return the seconds the countdown shows (m:ss), or -1 when it shows none."""
    text = page.locator(".wnb-countdown .wnb-big").all_inner_texts()
    match = re.fullmatch(r"(\d+):(\d\d)", text[0].strip()) if text else None
    return int(match[1]) * 60 + int(match[2]) if match else -1


def test_quickstart_end_to_end(server, request) -> None:
    expect = playwright_api.expect
    name = server["name"]
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        try:
            page.goto(server["url"])
            page.wait_for_function(KERNEL_IDLE, timeout=90_000)
            page.evaluate(RUN_ALL)
            badge = page.locator(".wnb-badge").first
            expect(badge).to_contain_text("NO TOKEN", timeout=60_000)
            panel = page.locator(".wnb-panel").first

            # 3. Create: PENDING, about 5:00 and falling, guidance visible
            page.locator("button.wnb-create").first.click()
            expect(badge).to_contain_text("PENDING", timeout=15_000)
            first = countdown(page)
            assert 290 <= first <= 300, first
            page.wait_for_timeout(2_000)
            assert countdown(page) < first
            expect(page.locator(".wnb-guidance").first).to_contain_text("OpenAPI Notifications")
            if name == "lab":
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                panel.screenshot(path=str(SCREENSHOTS / "panel-pending.png"))

            # 4. Type the code the simulated phone shows, as a person would
            code = page.locator(".wnb-phone-screen .wnb-sms-text").first
            expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=10_000)
            page.locator(".wnb-sms-code input").first.click()
            page.keyboard.type(code.inner_text())
            page.locator("button.wnb-sms-confirm").first.click()
            expect(badge).to_contain_text("NORMAL", timeout=5_000)
            assert countdown(page) == -1
            expect(page.locator(".wnb-token-info").first).to_contain_text("valid until about")

            # 5. The later cells ran (they waited for NORMAL) with the session's signing
            expect(page.get_by_text("accounts: ['SIM0000001', 'SIM0000002']")).to_be_visible(
                timeout=30_000
            )
            if name == "lab":
                panel.screenshot(path=str(SCREENSHOTS / "panel-normal.png"))

            # 6. A new PENDING token, and a cell sleeping 10 s in plain Python meanwhile
            page.wait_for_function(KERNEL_IDLE, timeout=30_000)
            page.locator("button.wnb-forget").first.click()
            expect(badge).to_contain_text("NO TOKEN", timeout=10_000)
            page.locator("button.wnb-create").first.click()
            expect(badge).to_contain_text("PENDING", timeout=10_000)
            page.evaluate(BUSY_CELL, "import time\ntime.sleep(10)")
            page.wait_for_function(KERNEL_BUSY, timeout=5_000)
            seen = []
            for _ in range(8):
                seen.append(countdown(page))
                page.wait_for_timeout(1_000)
            busy = page.evaluate(
                "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
            )
            record = {"frontend": name, "countdown_during_sleep": seen, "kernel_status": busy}
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / f"busy-cell-{name}.json").write_text(json.dumps(record))
            print("busy cell:", record)
            assert busy == "busy"
            assert len(set(seen)) >= 6 and seen == sorted(seen, reverse=True), seen
        except Exception:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"failure-{name}.png"), full_page=True)
            shutil.copyfile(server["log"], ARTIFACTS / f"server-{name}.log")
            print(f"failure artifacts in {ARTIFACTS}; server log tail:")
            print(server["log"].read_text()[-3000:])
            raise
        finally:
            browser.close()
