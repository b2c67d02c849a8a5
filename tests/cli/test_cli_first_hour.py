"""What a newcomer meets in the first hour of ``webull-nb token``: exit codes, hints that can be
pasted as printed, clear refusals, Ctrl-C, a wrong secret. Real processes, real simulators."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from webull_nb.cli.args import (
    EXIT_ACTION,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from webull_nb.endpoints import EndpointError, resolve
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import StoredToken
from webull_nb.simulator import ManualClock, Simulator

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "http://127.0.0.1:9"  # for actions that read the store only: nothing listens here


def cli_env(
    tmp_path: Path,
    key: str = "key",
    secret: str = "not-a-secret",  # noqa: S107
    **extra: str,
) -> dict:
    env = {
        **os.environ,
        "WEBULL_APP_KEY": key,
        "WEBULL_APP_SECRET": secret,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "HOME": str(tmp_path),
        **extra,
    }
    env.pop("WEBULL_OPENAPI_TOKEN_DIR", None)
    return env


def webull_nb(
    *args: str, env: dict, cwd: Path | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run ``webull-nb ARGS`` (as ``python -m webull_nb.cli``) with no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "webull_nb.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def hinted_commands(stderr: str) -> list[list[str]]:
    """The `webull-nb token ...` commands a message says to run, split as a shell would."""
    return [shlex.split(text) for text in re.findall(r"`(webull-nb token [^`]*)`", stderr)]


def run_hint(words: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert words[0] == "webull-nb"
    return webull_nb(*words[1:], env=env, cwd=cwd)


def sms_count(url: str) -> int:
    return len(requests.get(url + "/_sim/sms", timeout=5).json())


# --- exit codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env_extra"),
    [
        (["token", "revoke"], {}),
        (["token", "status", "--env", "test"], {}),
        (["token", "create", "--wait", "abc"], {}),
        (["token", "create", "--wait", "nan"], {}),
        (["token", "create", "--wait", "-5"], {}),
        (["token", "export", "--to", ""], {}),
        (["token", "status", "--token-dir", ""], {}),
        (["token"], {}),
        ([], {}),
        (["token", "status"], {"WEBULL_ENVIRONMENT": "staging"}),
        (["token", "status", "--region", "mars"], {}),
    ],
)
def test_usage_errors_exit_64_not_the_action_needed_code(
    tmp_path: Path, args: list[str], env_extra: dict
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    endpoint = ["--endpoint", NOWHERE] if len(args) > 1 else []
    result = webull_nb(*args, *endpoint, env=cli_env(tmp_path, **env_extra), cwd=cwd)
    assert result.returncode == EXIT_USAGE == 64, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()  # says what was wrong
    assert list(cwd.iterdir()) == []  # `--to ''` wrote no token.txt into the current folder
    if env_extra:
        assert "WEBULL_ENVIRONMENT=staging" in result.stderr  # says where the bad value came from


def test_the_exit_codes_are_distinct_and_documented() -> None:
    codes = {EXIT_OK, EXIT_ERROR, EXIT_ACTION, EXIT_USAGE, EXIT_INTERRUPTED}
    assert codes == {0, 1, 2, 64, 130}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code in sorted(codes):
        assert re.search(rf"^\| \*\*{code}\*\* \|", readme, re.MULTILINE), code


# --- hints that can be pasted as printed --------------------------------------------------------


@pytest.mark.slow
def test_hints_repeat_the_flags_that_pick_the_account(simulator_process, tmp_path: Path) -> None:
    url, key, secret = simulator_process
    env = cli_env(tmp_path, key, secret)
    token_dir = tmp_path / "my tokens; $HOME"  # a space and shell characters, quoted in hints
    flags = ["--endpoint", url, "--token-dir", str(token_dir), "--region", "us", "--env", "prod"]
    first = webull_nb("token", "create", "--wait", "0", *flags, env=env, cwd=tmp_path)
    assert first.returncode == EXIT_ACTION, first.stderr
    (hint,) = hinted_commands(first.stderr)
    assert hint[:3] == ["webull-nb", "token", "create"]
    for flag, value in zip(flags[::2], flags[1::2], strict=True):
        assert hint[hint.index(flag) + 1] == value, (flag, hint)

    # Pasted as printed (from another folder), it joins the same token: no second SMS.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = run_hint([*hint[:3], "--wait", "0", *hint[5:]], env, elsewhere)
    assert again.returncode == EXIT_ACTION, again.stderr
    assert "no new SMS" in again.stderr
    assert sms_count(url) == 1
    token = (token_dir / "token.txt").read_text().splitlines()[0]
    for text in (first.stdout, first.stderr, again.stdout, again.stderr):
        assert token not in text and secret not in text


# --- guidance for EXPIRED and INVALID -----------------------------------------------------------


@pytest.mark.parametrize("status", ["EXPIRED", "INVALID"])
def test_status_guides_an_expired_or_invalid_token(tmp_path: Path, status: str) -> None:
    tokens = tmp_path / "tokens"
    TokenStore(tokens).save(StoredToken("a-token-that-is-no-longer-good", None, status))
    result = webull_nb(
        "token", "status", "--token-dir", str(tokens), "--endpoint", NOWHERE,
        env=cli_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == EXIT_ACTION
    assert f"status:    {status}" in result.stdout
    assert status in result.stderr and "a new SMS" in result.stderr
    (hint,) = hinted_commands(result.stderr)
    assert hint[:3] == ["webull-nb", "token", "create"]
    assert hint[hint.index("--token-dir") + 1] == str(tokens)
    assert hint[hint.index("--endpoint") + 1] == NOWHERE


def test_check_guides_a_token_the_service_calls_invalid(simulator_process, tmp_path) -> None:
    url, key, secret = simulator_process
    tokens = tmp_path / "tokens"
    TokenStore(tokens).save(StoredToken("a-token-the-service-never-issued", None, "NORMAL"))
    result = webull_nb(
        "token", "check", "--token-dir", str(tokens), "--endpoint", url,
        env=cli_env(tmp_path, key, secret),
    )  # fmt: skip
    assert result.returncode == EXIT_ACTION, result.stderr
    assert "status:    INVALID" in result.stdout
    assert "INVALID" in result.stderr
    (hint,) = hinted_commands(result.stderr)
    assert hint[hint.index("--token-dir") + 1] == str(tokens)


def test_check_guides_a_token_that_expired_unapproved(tmp_path: Path) -> None:
    # The simulator's clock is moved past the 5-minute window; the CLI's clock is not, so
    # EXPIRED is what the service says, not what the local clock concludes.
    clock = ManualClock()
    with Simulator(clock=clock, verification_window=20) as sim:
        url = sim.url
        env = cli_env(tmp_path, sim.app_key, sim.app_secret)
        created = webull_nb("token", "create", "--wait", "0", "--endpoint", url, env=env)
        assert created.returncode == EXIT_ACTION, created.stderr
        clock.advance(25)
        result = webull_nb("token", "check", "--endpoint", url, env=env)
    assert result.returncode == EXIT_ACTION, result.stderr
    assert "status:    EXPIRED" in result.stdout
    assert "EXPIRED" in result.stderr and "5-minute window" in result.stderr
    (hint,) = hinted_commands(result.stderr)
    assert hint[hint.index("--endpoint") + 1] == url


# --- directories --------------------------------------------------------------------------------


@pytest.fixture
def normal_token(tmp_path: Path) -> Path:
    tokens = tmp_path / "tokens"
    TokenStore(tokens).save(StoredToken("a-normal-token-for-the-export", None, "NORMAL"))
    return tokens


def export(tmp_path: Path, tokens: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return webull_nb(
        "token", "export", "--token-dir", str(tokens), "--endpoint", NOWHERE, *args,
        env=cli_env(tmp_path), cwd=tmp_path,
    )  # fmt: skip


def test_export_to_a_file_says_it_takes_a_directory(tmp_path: Path, normal_token: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine\n")
    result = export(tmp_path, normal_token, "--to", str(a_file))
    assert result.returncode == EXIT_ERROR
    assert "--to takes a directory" in result.stderr and str(a_file) in result.stderr
    assert "Errno" not in result.stderr and "Not a directory" not in result.stderr
    assert a_file.read_text() == "mine\n"


@pytest.mark.slow
def test_export_refuses_a_missing_parent_unless_asked(tmp_path: Path, normal_token: Path) -> None:
    typo = tmp_path / "typo" / "does" / "not" / "exist"
    result = export(tmp_path, normal_token, "--to", str(typo))
    assert result.returncode == EXIT_ERROR
    assert "does not exist" in result.stderr and "--parents" in result.stderr
    assert not (tmp_path / "typo").exists()

    made = export(tmp_path, normal_token, "--to", str(typo), "--parents")
    assert made.returncode == EXIT_OK, made.stderr
    assert (typo / "token.txt").read_text().startswith("a-normal-token-for-the-export\n")

    # One missing level under an existing folder is just the target: made as before.
    fresh = tmp_path / "bot-tokens"
    assert export(tmp_path, normal_token, "--to", str(fresh)).returncode == EXIT_OK
    assert (fresh / "token.txt").is_file()


def test_token_dir_naming_a_file_is_a_clear_error(tmp_path: Path) -> None:
    a_file = tmp_path / "token-dir-typo"
    a_file.write_text("")
    result = webull_nb(
        "token", "status", "--token-dir", str(a_file), "--endpoint", NOWHERE,
        env=cli_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == EXIT_ERROR
    assert "--token-dir takes a directory" in result.stderr
    assert "lock" not in result.stderr and "File exists" not in result.stderr


# --- a wrong secret, an endpoint without a scheme -------------------------------------------------


def test_a_wrong_secret_shows_what_was_signed(simulator_process, tmp_path: Path) -> None:
    url, key, _ = simulator_process
    wrong = "not-the-secret-of-this-app-key"
    result = webull_nb(
        "token", "create", "--wait", "0", "--endpoint", url, env=cli_env(tmp_path, key, wrong)
    )
    assert result.returncode == EXIT_ERROR
    assert "INCORRECT_SIGN" in result.stderr
    assert ".last_canonical_string" not in result.stderr
    signed = [line.strip() for line in result.stderr.splitlines() if line.startswith("  /")]
    assert len(signed) == 1, result.stderr
    host = url.split("://", 1)[1]
    assert f"&host={host}&x-app-key={key}&" in signed[0]
    assert wrong not in result.stderr and wrong not in result.stdout
    assert sms_count(url) == 0


def test_an_endpoint_without_a_scheme_names_http_for_a_local_simulator(
    simulator_process, tmp_path: Path
) -> None:
    url, key, secret = simulator_process
    bare = url.split("://", 1)[1]
    result = webull_nb(
        "token", "create", "--wait", "0", "--endpoint", bare, env=cli_env(tmp_path, key, secret)
    )
    assert result.returncode == EXIT_USAGE
    assert f"http://{bare}" in result.stderr and "TLS" not in result.stderr
    assert sms_count(url) == 0


@pytest.mark.parametrize("bare", ["127.0.0.1:8123", "localhost:8123", "[::1]:8123"])
def test_resolve_refuses_a_local_endpoint_without_a_scheme(bare: str) -> None:
    with pytest.raises(EndpointError, match=re.escape(f"http://{bare}")):
        resolve(endpoint=bare)
    assert resolve(endpoint="api.webull.com").base_url == "https://api.webull.com"


# --- Ctrl-C -------------------------------------------------------------------------------------


class Waiting:
    """``webull-nb token create --wait 60`` in a real process, its stderr read as it comes."""

    def __init__(self, args: list[str], env: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "webull_nb.cli", "token", "create", "--wait", "60", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.prompted = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if "approve the prompt" in line:
                self.prompted.set()

    def finish(self) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout.read()  # not communicate(): it would read stderr too
        self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        return self.proc.returncode, stdout, "".join(self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("gap", [None, 0.0, 0.002, 0.02, 0.2])
def test_ctrl_c_while_waiting_says_the_token_stays_pending(
    simulator_process, tmp_path: Path, gap: float | None
) -> None:
    url, key, secret = simulator_process
    env = cli_env(tmp_path, key, secret)
    tokens = tmp_path / "tokens"
    waiting = Waiting(["--endpoint", url, "--token-dir", str(tokens)], env)
    assert waiting.prompted.wait(30), "".join(waiting.lines)
    waiting.proc.send_signal(signal.SIGINT)
    if gap is not None:  # a second Ctrl-C, as impatient people press it
        time.sleep(gap)  # the gap between two key presses is the point of this test
        waiting.proc.send_signal(signal.SIGINT)
    code, _, stderr = waiting.finish()

    assert code == EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "in the background" not in stderr  # the process exits: nothing goes on
    assert "stays PENDING" in stderr
    (hint,) = hinted_commands(stderr)
    assert hint[hint.index("--endpoint") + 1] == url
    assert hint[hint.index("--token-dir") + 1] == str(tokens)

    # The resume command joins the same token: still one SMS, and it can still be approved.
    resumed = run_hint([*hint[:3], "--wait", "0", *hint[5:]], env, tmp_path)
    assert resumed.returncode == EXIT_ACTION, resumed.stderr
    assert "no new SMS" in resumed.stderr
    assert sms_count(url) == 1
    token = (tokens / "token.txt").read_text().splitlines()[0]
    assert token not in stderr and secret not in stderr


# --- the documentation a newcomer reads first ---------------------------------------------------

README = ROOT / "README.md"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_readme_leads_with_what_works_from_a_checkout() -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks[0].strip() == "scripts/demo" and blocks[1].strip() == "scripts/test"
    assert (ROOT / "scripts" / "demo").is_file() and (ROOT / "scripts" / "test").is_file()
    pip = text.index("pip install 'webull-nb[lab]'")
    assert "Once webull-nb is published" in text[:pip]  # framed as what works later
    assert "pip wheel . --no-deps" in text  # and how to get there today


def test_readme_documents_the_headless_variables_and_the_simulator_flag() -> None:
    from webull_nb.simulator.__main__ import build_parser

    text = README.read_text(encoding="utf-8")
    quickstart = (ROOT / "notebooks" / "quickstart.ipynb").read_text(encoding="utf-8")
    for variable in ("WEBULL_NB_AUTOPILOT", "WEBULL_NB_SIMULATOR_URL"):
        assert f"`{variable}" in text and variable in quickstart
    flags = {flag for action in build_parser()._actions for flag in action.option_strings}
    assert "--auto-verify-after" in flags and "--auto-verify-after" in text


def test_readme_has_a_troubleshooting_section() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Troubleshooting") :]
    section = section[: section.index("\n## ", 1)]
    for topic in (
        "No SMS",
        "NO_AVAILABLE_DEVICE",
        "INCORRECT_SIGN",
        "canonical string",
        "Clock skew",
        "429",
        "webull-nb token forget",
        "Where the token lives",
    ):
        assert topic in section, topic


def test_the_license_file_is_the_apache_license_pyproject_declares() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and len(text.splitlines()) > 170
    project = _pyproject()
    assert project["project"]["license"] == "Apache-2.0"
    assert "LICENSE" in project["project"]["license-files"]
    assert "LICENSE" in project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_the_package_index_gets_a_text_without_images() -> None:
    project = _pyproject()
    readme = project["project"]["readme"]
    assert readme != "README.md"
    text = (ROOT / readme).read_text(encoding="utf-8")
    assert "![" not in text and "<img" not in text
    assert not re.search(r"\]\((?!https://)", text), "a relative link renders nowhere there"
    assert "webull-nb token" in text and "webull_nb.panel()" in text
    # An sdist must carry it, or a wheel built from the sdist fails.
    assert readme in project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_a_stored_normal_token_past_its_idle_deadline_is_invalid(tmp_path) -> None:
    token_dir = tmp_path / "tokens"
    token_dir.mkdir()
    (token_dir / "token.txt").write_text("stale-token-0123456789\n1600000000000\nNORMAL\n")
    env = cli_env(tmp_path)
    plain = webull_nb(
        "token", "status", "--token-dir", str(token_dir), "--endpoint", NOWHERE, env=env
    )
    assert plain.returncode == EXIT_ACTION
    assert "status:    INVALID" in plain.stdout and "NORMAL" not in plain.stdout
    assert "2020-09-13" in plain.stderr and "token create" in plain.stderr
    as_json = webull_nb(
        "token", "status", "--json", "--token-dir", str(token_dir), "--endpoint", NOWHERE, env=env
    )
    assert as_json.returncode == EXIT_ACTION
    assert '"status": "INVALID"' in as_json.stdout
