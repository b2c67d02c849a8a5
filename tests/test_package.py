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


# Every public name of the package and where it is defined (module.qualname), written out here
# rather than read from the package, so that a wrong entry in its lazy table fails these tests.
PUBLIC_NAMES = {
    "sign": "webull_nb.core.signing.sign",
    "canonical_string": "webull_nb.core.signing.canonical_string",
    "Endpoint": "webull_nb.core.endpoints.Endpoint",
    "resolve_endpoint": "webull_nb.core.endpoints.resolve",
    "Client": "webull_nb.http.client.Client",
    "TokenInfo": "webull_nb.core.tokens.TokenInfo",
    "TokenStatus": "webull_nb.core.status.TokenStatus",
    "WebullError": "webull_nb.core.errors.WebullError",
    "TokenStore": "webull_nb.shared.files.store.TokenStore",
    "Session": "webull_nb.session.session.Session",
    "current": "webull_nb.session.session.current",
    "Simulator": "webull_nb.simulator.Simulator",
    "frame": "webull_nb.core.tables.frame",
    "panel": "webull_nb.ui.panel.panel",
    "load_ipython_extension": "webull_nb.ui.magics.load_ipython_extension",
}


def test_dir_lists_only_the_public_names() -> None:
    assert dir(webull_nb) == sorted([*PUBLIC_NAMES, "__version__"])
    assert sorted(webull_nb.__all__) == dir(webull_nb)


def test_lazy_names_resolve() -> None:
    # In a fresh interpreter: this test process may have imported the submodules already.
    # A module where a function or class belongs has no __qualname__: "<module ...>" then.
    code = (
        "import json, webull_nb\n"
        "found = {}\n"
        "for name in webull_nb.__all__:\n"
        "    value = getattr(webull_nb, name)\n"
        "    found[name] = f'{value.__module__}.{value.__qualname__}' if callable(value) else (\n"
        "        repr(value) if hasattr(value, '__file__') else type(value).__name__)\n"
        "print(json.dumps(found))\n"
    )
    found = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert found == {**PUBLIC_NAMES, "__version__": "str"}
    import webull_nb.endpoints  # the module users may have imported it from before

    assert webull_nb.resolve_endpoint is webull_nb.endpoints.resolve
    # panel is a plain function; importing its module does not replace it on the package.
    from webull_nb.ui import panel as panel_module

    assert inspect.isfunction(webull_nb.panel) and webull_nb.panel is panel_module.panel
    assert webull_nb.sign("k", "s", host="h", path="/p")["x-app-key"] == "k"


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


def test_teach_is_reached_as_an_attribute_without_widgets() -> None:
    code = (
        "import sys, webull_nb\n"
        "assert callable(webull_nb.teach.check_signature)\n"
        "assert 'ipywidgets' not in sys.modules\n"
        "print('ok')\n"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "ok"
