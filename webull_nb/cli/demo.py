"""``webull-nb demo [--headless]``: the quickstart notebook against the embedded simulator."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import requests

from webull_nb.core import env

__all__ = ["add_demo_parser", "demo", "notebook_path"]


def notebook_path(name: str = "quickstart.ipynb") -> Path:
    """Find a bundled notebook: inside the installed package, or in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    # A wheel carries the notebooks inside the package; a checkout has them beside it.
    for candidate in (package / "notebooks" / name, package.parent / "notebooks" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"cannot find the {name} notebook next to webull_nb")


def _start_simulator() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "webull_nb.simulator", "--port", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603 (fixed argv)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if not first.startswith("webull-nb simulator listening on "):
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {first!r}")
    return proc, first.rsplit(" ", 1)[1]


def _phone(url: str, stop: threading.Event) -> None:
    """Enter each SMS code as it arrives, the way a user would in the Webull App."""
    seen: set[str] = set()
    while not stop.wait(0.2):
        try:
            inbox = requests.get(f"{url}/_sim/sms", timeout=5).json()
        except (requests.RequestException, ValueError):
            continue
        for sms in inbox:
            if sms["token"] not in seen:
                seen.add(sms["token"])
                print(f"  phone: SMS code {sms['code']} arrived; entering it", flush=True)
                requests.post(f"{url}/_sim/verify", json=sms, timeout=5)


_LAB_HINT = "pip install 'webull-nb[lab]'"


def _missing_headless_tools() -> str | None:
    """Name the first notebook tool the headless demo needs that is not installed."""
    for module in ("nbformat", "nbclient", "ipykernel", "jupyter_client"):
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


def _kernel_manager(workdir: Path) -> Any:
    from jupyter_client.manager import KernelManager

    if os.name == "nt":  # ZeroMQ has no IPC transport on Windows
        return KernelManager(kernel_name="python3")
    # Unix sockets in the 0700 demo folder instead of TCP ports on localhost: nothing else
    # can connect, and ipykernel has no reason to warn about unencrypted TCP.
    return KernelManager(
        kernel_name="python3",
        transport="ipc",
        ip=str(workdir / "kernel"),
        connection_file=str(workdir / "kernel.json"),
    )


def _run_headless(notebook: Path, url: str, workdir: Path) -> int:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    stop = threading.Event()
    phone = threading.Thread(target=_phone, args=(url, stop), daemon=True)
    phone.start()
    km = _kernel_manager(workdir)
    try:
        NotebookClient(
            nb,
            km=km,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(workdir)}},
        ).execute()
    finally:
        stop.set()
        phone.join()
        # NotebookClient leaves a kernel manager it was given running; an orphaned kernel
        # would later print "Parent appears to have exited" into the user's terminal.
        if km.has_kernel:
            km.shutdown_kernel(now=False)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            for line in text.splitlines():
                if line.startswith(("states:", "accounts:", "status:")):
                    print(" ", line, flush=True)
    return 0


def _run_jupyterlab(notebook: Path, workdir: Path) -> int:
    print(f"opening JupyterLab on {notebook} (a temporary copy)", flush=True)
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={workdir}", str(notebook)]
    if getattr(os, "geteuid", lambda: 1)() == 0:
        command.append("--allow-root")  # containers often run as root
    return subprocess.call(command)  # noqa: S603 (fixed argv)


def demo(headless: bool) -> int:
    """Start the simulator and run the quickstart on it, in JupyterLab or headless."""
    # Checked before anything starts, so a missing extra costs one line and leaves nothing.
    if headless:
        missing = _missing_headless_tools()
        if missing is not None:
            print(f"the headless demo needs {missing}: {_LAB_HINT}", file=sys.stderr)
            return 2
    elif importlib.util.find_spec("jupyterlab") is None:
        print(f"JupyterLab is not installed: {_LAB_HINT}", file=sys.stderr)
        return 2
    source = notebook_path()  # before the simulator starts: a failure here leaves nothing
    proc, url = _start_simulator()
    try:
        print(
            f"webull-nb demo: simulator at {url} (demo keys; no Webull account needed)", flush=True
        )
        # The folder holds the demo's token.txt and kernel sockets; it goes when the demo ends.
        with tempfile.TemporaryDirectory(
            prefix="webull-nb-demo-", ignore_cleanup_errors=True
        ) as tmp:
            workdir = Path(tmp)
            notebook = workdir / "quickstart.ipynb"
            shutil.copyfile(source, notebook)
            os.environ.update(
                {
                    env.SIMULATOR_URL: url,
                    env.TOKEN_DIR: str(workdir / "tokens"),
                }
            )
            if headless:
                os.environ[env.AUTOPILOT] = "1"
                print("running the quickstart headless...", flush=True)
                return _run_headless(notebook, url, workdir)
            return _run_jupyterlab(notebook, workdir)
    except KeyboardInterrupt:
        return 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def add_demo_parser(commands: Any) -> None:
    """Register ``demo`` on the ``webull-nb`` subcommand parsers."""
    parser = commands.add_parser(
        "demo", help="run the quickstart notebook against the embedded simulator"
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="run without a browser, approving the token through the simulator",
    )
