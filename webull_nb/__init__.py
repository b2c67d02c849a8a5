"""webull-nb: the Webull OpenAPI two-factor token flow, as a first-class notebook experience.

Importing this package is cheap: submodules (and ipywidgets) load on first use.
"""

import importlib as _importlib
from typing import Any as _Any

__version__ = "0.1.0"

# public name -> module that defines it; resolved lazily by __getattr__ (PEP 562).
_LAZY: dict[str, str] = {
    "sign": "core.signing",
    "canonical_string": "core.signing",
    "Endpoint": "core.endpoints",
    "resolve_endpoint": "core.endpoints",
    "TokenStatus": "core.status",
    "WebullError": "core.errors",
    "Client": "http.client",
    "TokenInfo": "core.tokens",
    "TokenStore": "shared.files.store",
    "Session": "session.session",
    "current": "session.session",
    "Simulator": "simulator",
    "frame": "core.tables",
    "panel": "ui.panel",
    "load_ipython_extension": "ui.magics",
}
_ALIASES = {"resolve_endpoint": "resolve"}

__all__ = ["__version__", *_LAZY]


# Modules a notebook reaches as attributes (``webull_nb.teach.check_signature``).
_SUBMODULES = frozenset({"teach", "classroom"})


def __getattr__(name: str) -> _Any:
    """Load a public name from its module on first access."""
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'webull_nb' has no attribute {name!r}")
    module = _importlib.import_module(f".{module_name}", __name__)
    value = getattr(module, _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, loaded or not (not this module's own imports)."""
    return sorted(__all__)
