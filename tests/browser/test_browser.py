"""The panel in a real browser: JupyterLab 4 (the quickstart and the class exercises), Notebook 7,
marimo and Voila, used as a person would.

Needs Debian's chromium (``/usr/bin/chromium``) and the ``browser`` extra; never
``playwright install``. Skipped where chromium is missing, unless WEBULL_NB_REQUIRE_BROWSER=1
(as in CI), where that is a failure. Screenshots and logs go to ``test-artifacts/``; the README's
screenshots in ``docs/img/`` are refreshed only by ``scripts/screenshots``.

The countdown is always read through Playwright's retrying ``expect``: a single read races the
browser's timer and the kernel's next message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from chromium import ARTIFACTS, ROOT, require_chromium

pytestmark = pytest.mark.browser
require_chromium()

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

JUPYTER = {
    "lab": ("jupyterlab", "--LabApp.expose_app_in_browser=True", "lab/tree/quickstart.ipynb"),
    "lab-classroom": (
        "jupyterlab",
        "--LabApp.expose_app_in_browser=True",
        "lab/tree/classroom.ipynb",
    ),
    "notebook7": (
        "notebook",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "notebooks/quickstart.ipynb",
    ),
}
TOKEN = "webull-nb-browser-test"
KERNEL_STATUS = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return kernel ? kernel.status : 'none';
}"""
# Records every text the panel's error box shows.
RECORD_ERRORS = """() => {
  window.__errors = [];
  const box = document.querySelector('.wnb-panel .wnb-error');
  new MutationObserver(() => window.__errors.push(box.textContent))
    .observe(box, {childList: true, characterData: true, subtree: true});
}"""
KERNEL_IDLE = f"() => ({KERNEL_STATUS})() === 'idle'"
KERNEL_BUSY = f"() => ({KERNEL_STATUS})() === 'busy'"
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
# Make the panel's cell (the second) the active one and scroll it to the top, and wait until
# the notebook has done so. "Run all" scrolls to the last cell, and JupyterLab does that scroll
# when the cell shows up, which is also about when the panel appears (measured: 150-300 ms
# apart): a click on the panel in between may start on a button and end elsewhere once the
# notebook scrolls, and Playwright checks only where a click starts, so it is lost silently
# ("Notify me" stayed visible). A newer scroll request replaces a pending one in JupyterLab,
# so after this nothing moves the panel but the test.
PIN_PANEL = """async () => {
  const notebook = window.jupyterapp.shell.currentWidget.content;
  notebook.activeCellIndex = 1;
  await notebook.scrollToItem(1, 'start');
}"""
BUSY_CELL = """(code) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  kernel.requestExecute({code: code});
}"""
# Records notifications instead of showing them; the permission prompt grants at once.
FAKE_NOTIFICATIONS = """
window.__notes = [];
class FakeNotification {
  constructor(title, options) { window.__notes.push(title); }
  static async requestPermission() { FakeNotification.permission = 'granted'; return 'granted'; }
}
FakeNotification.permission = 'default';
window.Notification = FakeNotification;
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "HOME": str(tmp_path / "home"),
        "MARIMO_SKIP_UPDATE_CHECK": "1",
    }
    for variable in (
        "WEBULL_APP_KEY",
        "WEBULL_APP_SECRET",
        "WEBULL_NB_AUTOPILOT",
        "WEBULL_NB_SIMULATOR_URL",
    ):
        env.pop(variable, None)
    return env


class Server:
    """A frontend's server process, its URL, and its log (for failure artifacts)."""

    def __init__(self, name: str, args: list[str], url: str, ready: str, tmp_path: Path) -> None:
        self.name, self.url, self.log = name, url, tmp_path / f"server-{name}.log"
        (tmp_path / "home").mkdir(exist_ok=True)
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(
            args, env=clean_env(tmp_path), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(ready, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{name} did not start"
            time.sleep(0.3)

    def kernel_pid(self) -> int:
        """Return the pid of the one kernel this server started."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and b"ipykernel" in cmdline:
                return int(stat.parent.name)
        raise AssertionError("no kernel process found")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture
def jupyter(request, tmp_path):
    name = request.param
    module, expose, path = JUPYTER[name]
    root = tmp_path / "root"
    root.mkdir()
    notebook = Path(path).name
    shutil.copyfile(ROOT / "notebooks" / notebook, root / notebook)
    news = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server(
        name,
        [
            sys.executable,
            "-m",
            module,
            "--no-browser",
            "--allow-root",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            expose,
        ],
        f"{base}/{path}{'?reset&token=' if module == 'jupyterlab' else '?token='}{TOKEN}",
        f"{base}/api/status?token={TOKEN}",
        tmp_path,
    )
    yield server
    server.stop()


def open_page(browser, server: Server, request, *, clock_shift: float | None = None):
    """Open a page (its clock shifted by ``clock_shift`` seconds, when given)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    page.add_init_script(FAKE_NOTIFICATIONS)
    if clock_shift is not None:
        page.clock.install(time=time.time() + clock_shift)
    page.set_default_timeout(30_000)
    request.node.wnb_page = (page, server)  # for the failure artifacts (conftest.py)
    return page


def between(low: int, high: int) -> re.Pattern[str]:
    """Match a countdown text (m:ss) showing from ``low`` to ``high`` seconds."""
    shown = "|".join(f"{s // 60}:{s % 60:02d}" for s in range(max(low, 0), high + 1))
    return re.compile(f"^({shown})$")


def seconds(text: str) -> int:
    minutes, secs = text.strip().split(":")
    return int(minutes) * 60 + int(secs)


def create_and_see_it_fall(page, panel, *, keyboard: bool = False) -> None:
    """Click Create (or focus it and press Enter); see PENDING and a falling countdown."""
    create = panel.get_by_role("button", name="Create token")
    if keyboard:
        create.focus()
        page.keyboard.press("Enter")
    else:
        create.click()
    expect(panel.get_by_role("status").first).to_contain_text("PENDING", timeout=15_000)
    big = panel.locator(".wnb-countdown .wnb-big")
    # Within 1 s of the kernel's count, whatever the browser's own clock says.
    expect(big).to_have_text(between(292, 300), timeout=5_000)
    expect(big).to_have_text(between(250, 291), timeout=15_000)
    expect(panel.locator(".wnb-guidance")).to_contain_text("OpenAPI Notifications")


def approve_on_the_phone(page, panel) -> None:
    """Type the code the simulated phone shows, as a person would; see NORMAL."""
    code = panel.locator(".wnb-phone-screen .wnb-sms-text")
    expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=10_000)
    panel.locator("input.wnb-sms-code").click()
    page.keyboard.type(code.inner_text())
    panel.get_by_role("button", name="Confirm").click()
    expect(panel.get_by_role("status").first).to_contain_text("NORMAL", timeout=15_000)
    expect(panel.locator(".wnb-countdown")).to_be_hidden()
    expect(panel.locator(".wnb-token-info")).to_contain_text("valid until about")
    expect(panel.locator(".wnb-phone-result")).to_contain_text("Approved")


def run_the_quickstart(browser, jupyter, request, clock_shift: int | None):
    """Open the notebook, run all cells, and return (page, panel, badge) once it shows."""
    page = open_page(browser, jupyter, request, clock_shift=clock_shift)
    page.goto(jupyter.url)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate(RUN_ALL)
    panel = page.locator(".wnb-panel").first
    badge = panel.get_by_role("status").first
    expect(badge).to_have_text("NO TOKEN", timeout=60_000)
    page.evaluate(PIN_PANEL)
    return page, panel, badge


def screenshot(panel, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / name))


@pytest.mark.parametrize("jupyter", ["lab"], indirect=True)
def test_jupyterlab_quickstart_with_a_skewed_clock_and_a_stopped_kernel(
    jupyter, browser, request
) -> None:
    # The browser's clock is 7 minutes behind the kernel's: the countdown must still be right.
    page, panel, badge = run_the_quickstart(browser, jupyter, request, clock_shift=-420)
    expect(badge).to_have_attribute("aria-live", "polite")
    # The quickstart talks to the simulator on this machine: the header says so.
    expect(panel.locator(".wnb-title")).to_contain_text("(simulator · API v2")

    create_and_see_it_fall(page, panel)
    notify = panel.get_by_role("button", name="Notify me")
    expect(notify).to_be_visible()
    screenshot(panel, "lab-pending.png")  # the README's: with the "Notify me" button

    # Notifications are opt-in: one click on "Notify me".
    notify.click()
    expect(notify).to_be_hidden()

    # Freeze the kernel: the countdown keeps falling, as the browser draws it.
    pid = jupyter.kernel_pid()
    big = panel.locator(".wnb-countdown .wnb-big")
    os.kill(pid, signal.SIGSTOP)
    try:
        frozen_at = seconds(big.inner_text())  # only to pick the range below
        expect(big).to_have_text(between(frozen_at - 6, frozen_at - 3), timeout=10_000)
    finally:
        os.kill(pid, signal.SIGCONT)

    approve_on_the_phone(page, panel)
    page.wait_for_function("() => window.__notes.includes('Webull token approved')")
    # The later cells ran (they waited for NORMAL) with the session's signing.
    expect(page.get_by_text("accounts: ['SIM0000001', 'SIM0000002']", exact=True)).to_be_visible(
        timeout=30_000
    )
    # Settled: the phone no longer says the panel "turns NORMAL at its next check".
    expect(panel.locator(".wnb-phone-result")).to_have_text("✓ Approved: the token is NORMAL.")
    screenshot(panel, "lab-normal.png")


@pytest.mark.parametrize("jupyter", ["lab-classroom"], indirect=True)
def test_jupyterlab_class_exercises_with_the_phone_approving_while_a_cell_awaits(
    jupyter, browser, request
) -> None:
    # The class notebook as a student on their own runs it: every code typed on the phone.
    page, panel, badge = run_the_quickstart(browser, jupyter, request, clock_shift=None)
    panel.get_by_role("button", name="Create token").click()
    approve_on_the_phone(page, panel)
    boxes = page.locator(".webull-nb-exercise")
    expect(boxes.filter(has_text="signature exercise passed")).to_have_count(1, timeout=30_000)
    expect(boxes.filter(has_text="polling exercise passed")).to_have_count(1, timeout=30_000)
    # The teacher ended the token; the recovery cell now awaits a new one: only the phone,
    # clicked while that cell runs, can approve it.
    expect(page.get_by_text("your token now: INVALID")).to_be_visible(timeout=30_000)
    expect(badge).to_contain_text("PENDING", timeout=30_000)
    approve_on_the_phone(page, panel)
    recovered = boxes.filter(has_text="recovery exercise passed")
    expect(recovered).to_contain_text("recovered: INVALID → NORMAL", timeout=30_000)
    expect(recovered).to_contain_text("reported to the class")
    expect(page.get_by_text("s01  NORMAL   passed: signature, polling, recovery")).to_be_visible(
        timeout=30_000
    )


@pytest.mark.parametrize("jupyter", ["notebook7"], indirect=True)
def test_notebook7_quickstart_with_a_busy_kernel_and_a_closing_window(
    jupyter, browser, request
) -> None:
    page, panel, badge = run_the_quickstart(browser, jupyter, request, clock_shift=0)
    panel.get_by_role("button", name="Notify me").click()
    create_and_see_it_fall(page, panel)
    approve_on_the_phone(page, panel)
    expect(page.get_by_text("accounts: ['SIM0000001', 'SIM0000002']", exact=True)).to_be_visible(
        timeout=30_000
    )

    # A new PENDING token while a cell sleeps 10 s in plain Python: the countdown falls.
    page.wait_for_function(KERNEL_IDLE, timeout=30_000)
    panel.get_by_role("button", name="Forget token").click()
    expect(badge).to_have_text("NO TOKEN", timeout=10_000)
    panel.get_by_role("button", name="Create token").click()
    expect(badge).to_contain_text("PENDING", timeout=10_000)

    # "Send a new code" sits where "Create token" was: a double click on Create would land on
    # it, so it waits 5 s; a double click on it asks the kernel once (the kernel would ignore
    # the second and say so: that message must never appear).
    new_code = panel.get_by_role("button", name="Send a new code")
    expect(new_code).to_be_disabled()
    expect(new_code).to_be_enabled(timeout=10_000)
    page.evaluate(RECORD_ERRORS)
    sms = panel.locator(".wnb-phone-screen .wnb-sms-text")
    first_code = sms.inner_text()
    new_code.dblclick()
    expect(new_code).to_be_disabled()
    expect(sms).not_to_have_text(first_code, timeout=10_000)
    # The kernel handles messages in order and answers a repeat at once, before the new SMS.
    assert not [text for text in page.evaluate("() => window.__errors") if "just sent" in text]

    big = panel.locator(".wnb-countdown .wnb-big")
    expect(big).to_have_text(between(292, 300))
    page.evaluate(BUSY_CELL, "import time\ntime.sleep(10)")
    page.wait_for_function(KERNEL_BUSY, timeout=5_000)
    expect(big).to_have_text(between(280, 291), timeout=12_000)
    assert page.evaluate(f"({KERNEL_STATUS})()") == "busy"

    # Move the browser's clock on: 60 s before the window closes it notifies; past the
    # deadline with no news from the kernel it says so, never a negative time.
    left = seconds(big.inner_text())  # only to pick how far to move the clock
    page.clock.fast_forward((left - 50) * 1000)
    page.wait_for_function("() => window.__notes.includes('Webull token: 1 minute left')")
    page.clock.fast_forward(60_000)
    expect(panel.locator(".wnb-countdown")).to_contain_text("Window closed, confirming…")


@pytest.fixture
def marimo_app(tmp_path):
    shutil.copyfile(ROOT / "notebooks" / "marimo_panel.py", tmp_path / "app.py")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    args = [sys.executable, "-m", "marimo", "run", str(tmp_path / "app.py")]
    args += ["--headless", "--no-token", "--host", "127.0.0.1", "--port", str(port)]
    server = Server("marimo", args, url, url, tmp_path)
    yield server
    server.stop()


def test_marimo_app(marimo_app, browser, request) -> None:
    page = open_page(browser, marimo_app, request)
    page.goto(marimo_app.url)
    panel = page.locator(".wnb-panel").first  # inside marimo's shadow root
    expect(panel.get_by_role("status").first).to_have_text("NO TOKEN", timeout=60_000)
    create_and_see_it_fall(page, panel)
    approve_on_the_phone(page, panel)
    screenshot(panel, "marimo-normal.png")


@pytest.fixture
def voila(tmp_path):
    shutil.copyfile(ROOT / "notebooks" / "dashboard.ipynb", tmp_path / "dashboard.ipynb")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    args = [sys.executable, "-m", "voila", str(tmp_path / "dashboard.ipynb"), "--no-browser"]
    args += ["--Voila.ip=127.0.0.1", f"--port={port}"]
    server = Server("voila", args, url + "voila/static/", url + "voila/static/", tmp_path)
    server.url = url
    yield server
    server.stop()


def test_voila_dashboard(voila, browser, request) -> None:
    page = open_page(browser, voila, request)
    page.goto(voila.url, timeout=90_000)
    panel = page.locator(".wnb-panel").first
    expect(panel.get_by_role("status").first).to_have_text("NO TOKEN", timeout=60_000)
    create_and_see_it_fall(page, panel, keyboard=True)
    approve_on_the_phone(page, panel)
    screenshot(panel, "voila-normal.png")
