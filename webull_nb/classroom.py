"""Class mode for the teacher: ``dashboard(url, teacher_token)``, a live view of a class.

Importing this module is cheap: ``dashboard`` (and ipywidgets) load on first use.
"""

import importlib as _importlib
from typing import Any as _Any

# public name -> module that defines it; resolved lazily by __getattr__ (PEP 562).
_LAZY: dict[str, str] = {
    "dashboard": "ui.dashboard",
    "Dashboard": "ui.dashboard",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> _Any:
    """Load a public name from its module on first access."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'webull_nb.classroom' has no attribute {name!r}")
    module = _importlib.import_module(f"webull_nb.{module_name}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, loaded or not."""
    return sorted(__all__)
