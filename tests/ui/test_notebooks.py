"""The demo notebooks run top to bottom headless; a saved notebook keeps no secret; the demo CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytestmark = pytest.mark.kernel

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SECRET = "typed-secret-that-must-not-be-saved"


def execute(nb, tmp_path: Path, monkeypatch, **env: str):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("WEBULL_NB_AUTOPILOT", "1")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    return nb


def text_of(nb) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_quickstart_runs_headless(tmp_path, monkeypatch) -> None:
    nb = execute(nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4), tmp_path, monkeypatch)
    out = text_of(nb)
    assert "status: NORMAL" in out
    assert "accounts: ['SIM0000001', 'SIM0000002']" in out
    assert "states: NONE -> PENDING -> NORMAL" in out
    assert "SDK accounts: ['SIM0000001', 'SIM0000002']" in out
    assert "SDK snapshot: [('AAPL', '189.84')]" in out
    assert not list(tmp_path.glob("webull_*_sdk.log"))


def test_teaching_runs_headless(tmp_path, monkeypatch) -> None:
    nb = execute(nbformat.read(NOTEBOOKS / "teaching.ipynb", as_version=4), tmp_path, monkeypatch)
    out = text_of(nb)
    assert "after 15 idle days -> INVALID" in out and "after 5 minutes    -> EXPIRED" in out
    assert "refused: token check is limited to 10 requests per 30 s" in out
    assert "file mode: 0o600" in out
    assert "same file as ours: True" in out


SAVE_CELLS = [
    """
import os, webull_nb
from webull_nb.simulator import Simulator
sim = Simulator(app_secret=os.environ["SAVE_TEST_SECRET"]).start()
p = webull_nb.panel(endpoint=sim.url, token_dir=os.environ["SAVE_TEST_TOKENS"])
p.background = False
p
""",
    """
# what the browser sends when the credentials form is submitted, then Create is clicked
p._on_message(p, {"action": "credentials", "app_key": sim.app_key,
                  "app_secret": os.environ["SAVE_TEST_SECRET"]}, [])
p._on_message(p, {"action": "create"}, [])
sms = sim.sms_inbox()[-1]
sim.verify(sms["token"], sms["code"])
p.session.check_token()
print("final", p.session.status)
""",
    "p",
]


def test_saved_notebook_with_widget_state_holds_no_secret(tmp_path, monkeypatch) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SAVE_CELLS])
    tokens = tmp_path / "tokens"
    execute(nb, tmp_path, monkeypatch, SAVE_TEST_SECRET=SECRET, SAVE_TEST_TOKENS=str(tokens))
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    text = saved.read_text()
    token = (tokens / "token.txt").read_text().splitlines()[0]
    assert "final NORMAL" in text
    assert "application/vnd.jupyter.widget-state+json" in text  # widget state was saved
    assert SECRET not in text and token not in text


def test_demo_headless_prints_the_states(tmp_path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path),
        "HOME": str(tmp_path),
        "TMPDIR": str(temp),
    }
    env.pop("WEBULL_APP_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "webull_nb.cli", "demo", "--headless"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "webull-nb demo: simulator at http://127.0.0.1:" in out
    assert "phone: SMS code" in out
    assert "states: NONE -> PENDING -> NORMAL" in out
    # The demo folder (quickstart copy, token.txt, kernel sockets) goes with the demo.
    assert list(temp.iterdir()) == []
    assert "without encryption" not in result.stderr
    assert "Parent appears to have exited" not in result.stderr  # the kernel was shut down


def test_explore_runs_headless(tmp_path, monkeypatch) -> None:
    nb = execute(nbformat.read(NOTEBOOKS / "explore.ipynb", as_version=4), tmp_path, monkeypatch)
    out = text_of(nb)
    assert "status: NORMAL" in out
    assert "first account: SIM0000001" in out
    assert "did you mean 'symbols'" in out
    assert "Nothing was sent" in out
    assert "open orders: ['explore-1', " in out
    assert "auth=webull_nb.current().auth" in out
    assert "200 v3" in out
    # Errors are boxes: no cell has an error output.
    assert all(o["output_type"] != "error" for cell in nb.cells for o in cell.get("outputs", []))


def test_classroom_runs_headless_and_saves_no_secret(tmp_path, monkeypatch) -> None:
    nb = nbformat.read(NOTEBOOKS / "classroom.ipynb", as_version=4)
    # One cell more, to learn the class's secrets (held in the kernel) and then look for them.
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json, pathlib\n"
            "pathlib.Path('held.json').write_text(json.dumps([APP_SECRET, room.teacher_token]))"
        )
    )
    execute(nb, tmp_path, monkeypatch)
    nb.cells.pop()
    out = text_of(nb)
    assert all(o["output_type"] != "error" for cell in nb.cells for o in cell.get("outputs", []))
    assert "status: NORMAL" in out
    # Exercise 1: the right signature passes; the URL signed as Host is named, twice.
    assert (
        "signature exercise passed: right: your canonical string, string to sign and "
        "signature match" in out
    )
    assert (
        "host differs: expected 'host=api.webull.com', yours 'host=https://api.webull.com'" in out
    )
    assert (
        "Host differs: you signed the URL 'https://api.webull.com', not the Host 'api.webull.com'"
        in out
    )
    # Exercise 2: a polite loop; exercise 3: the teacher ends the token, the student recovers.
    assert "polling exercise passed: 3 checks, at most 3 in any 30 s, no 429" in out
    assert "your token now: INVALID" in out
    assert "recovery exercise passed: recovered: INVALID → NORMAL" in out
    assert out.count("(reported to the class)") == 3
    # The teacher's view has each passed exercise, and the other students untouched.
    assert "s01  NORMAL   passed: signature, polling, recovery" in out
    assert "s02  NONE     passed: -" in out
    # Saved with its widget state, the notebook holds neither the secret nor the teacher token.
    secret, teacher_token = json.loads((tmp_path / "held.json").read_text())
    saved = nbformat.writes(nb)
    assert "widgets" in nb.metadata, "no widget state was saved: nothing was looked at"
    for name, value in (("app secret", secret), ("teacher token", teacher_token)):
        assert value[:8] not in saved, f"the {name} is in the saved notebook"


def test_classroom_joins_a_class_served_elsewhere(tmp_path, monkeypatch) -> None:
    # A student's kernel, the teacher's class server here: URL and key pasted, secret asked.
    from webull_nb.simulator import Classroom

    nb = nbformat.read(NOTEBOOKS / "classroom.ipynb", as_version=4)
    cut = next(i for i, cell in enumerate(nb.cells) if "room.scenario(" in cell.source)
    nb.cells = nb.cells[:cut]  # the recovery waits for the teacher: up to the polling exercise
    with Classroom(2, auto_verify_after=1) as room:
        _, secret = room.credentials("s02")
        setup = nb.cells[1]
        assert 'CLASS_URL = ""' in setup.source and 'APP_KEY = ""' in setup.source
        # The two lines the teacher's snippet gives for this notebook, pasted over the blanks.
        pasted = [line for line in room.snippet("s02").splitlines() if line[:1].isupper()]
        assert [line.split(" = ")[0] for line in pasted] == ["CLASS_URL", "APP_KEY"]
        for line in pasted:
            setup.source = setup.source.replace(line.split(" = ")[0] + ' = ""', line)
        # What the student types at the prompt (nbclient has no stdin to answer it).
        typed = "import os\nget_ipython().kernel.getpass = lambda *a, **k: os.environ['TYPED']"
        nb.cells.insert(1, nbformat.v4.new_code_cell(typed))
        execute(nb, tmp_path, monkeypatch, TYPED=secret)
        rows = {row["student"]: row for row in room.status()["students"]}
    out = text_of(nb)
    assert "you are s01" not in out and "status: NORMAL" in out
    assert out.count("(reported to the class)") == 2
    assert rows["s02"]["status"] == "NORMAL"
    assert rows["s02"]["exercises"] == ["signature", "polling"]
    assert rows["s01"]["exercises"] == [] and rows["s01"]["status"] == "NONE"
    assert secret[:8] not in nbformat.writes(nb)
