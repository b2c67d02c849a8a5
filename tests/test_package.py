"""Package-level promises: cheap import, no ipywidgets at import, typed public API."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import webull_nb


def test_import_does_not_load_ipywidgets_or_http_stack() -> None:
    code = (
        "import sys, json, webull_nb; "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('ipywidgets', 'requests', 'traitlets', 'asyncio'))))"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert loaded == []


def test_lazy_names_resolve() -> None:
    assert callable(webull_nb.sign)
    assert "Session" in dir(webull_nb)


def test_public_functions_have_hints_and_docstrings() -> None:
    import webull_nb.endpoints
    import webull_nb.signing

    for module in (webull_nb.signing, webull_nb.endpoints):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                assert obj.__doc__, f"{module.__name__}.{name} has no docstring"
                hints = inspect.get_annotations(obj)
                assert "return" in hints, f"{module.__name__}.{name} has no return hint"
