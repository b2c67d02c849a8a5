"""The endpoint catalog: every HTTP endpoint the official SDK calls, as data.

``catalog.json`` beside this module is written by ``scripts/catalog.py`` from the installed
``webull-openapi-python-sdk`` (method, path, ``x-version``, parameter names, which ones its
client methods always pass); re-run the script for a new SDK version. This module only reads
it (package data, loaded once on first use) and answers questions about it.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from webull_nb.core.errors import ParameterError

__all__ = [
    "Entry",
    "Param",
    "ParameterError",
    "check_params",
    "entries",
    "find",
    "for_path",
    "is_trading",
    "paths",
    "sdk_version",
    "search",
    "version_for",
]


@dataclass(frozen=True)
class Param:
    """One parameter: its name, where it goes (``query`` or ``body``), whether it is required."""

    name: str
    where: str
    required: bool


@dataclass(frozen=True)
class Entry:
    """One endpoint: method, path, the ``x-version`` it needs, its parameters."""

    method: str
    path: str
    version: str
    params: tuple[Param, ...]
    description: str
    sdk: str
    trading: bool

    @property
    def names(self) -> tuple[str, ...]:
        """Every parameter name, required ones first."""
        return tuple(p.name for p in self.params)

    @property
    def required(self) -> tuple[str, ...]:
        """The names the SDK always sends."""
        return tuple(p.name for p in self.params if p.required)

    def usage(self) -> str:
        """The magic line that calls it, required parameters filled with placeholders."""
        args = " ".join(f"{name}=…" for name in self.required)
        line = f"%webull {self.method.lower()} {self.path}"
        return f"{line} {args}" if args else line

    def as_row(self) -> dict[str, str]:
        """The endpoint as one table row."""
        optional = [p.name for p in self.params if not p.required]
        return {
            "method": self.method,
            "path": self.path,
            "x-version": self.version,
            "required": ", ".join(self.required),
            "optional": ", ".join(optional),
            "description": self.description + (" (moves money: trading)" if self.trading else ""),
        }


@functools.cache
def _load() -> tuple[str, tuple[Entry, ...]]:
    text = resources.files(__package__).joinpath("catalog.json").read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    loaded = tuple(
        Entry(
            method=e["method"],
            path=e["path"],
            version=e["version"],
            params=tuple(Param(p["name"], p["in"], bool(p["required"])) for p in e["params"]),
            description=e["description"],
            sdk=e["sdk"],
            trading=bool(e["trading"]),
        )
        for e in document["endpoints"]
    )
    return str(document.get("sdk_version", "")), loaded


@functools.cache
def _index() -> dict[tuple[str, str], tuple[Entry, ...]]:
    index: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries():
        index.setdefault((entry.method, entry.path), []).append(entry)
    # Newest version first: where one path has two (the SDK keeps a legacy pagination
    # protocol under v2), the current one is the default.
    return {
        key: tuple(sorted(found, key=lambda e: e.version, reverse=True))
        for key, found in index.items()
    }


def entries() -> tuple[Entry, ...]:
    """Every endpoint, sorted by path."""
    return _load()[1]


def sdk_version() -> str:
    """The SDK version the catalog was extracted from."""
    return _load()[0]


def _normal(path: str) -> str:
    path = path.split("?", 1)[0].strip()
    return path if path.startswith("/") else "/" + path


def find(method: str, path: str, version: str | None = None) -> Entry | None:
    """The endpoint for ``method path`` (the newest version unless ``version`` is given)."""
    found = _index().get((method.upper(), _normal(path)), ())
    if version is not None:
        found = tuple(e for e in found if e.version == version)
    return found[0] if found else None


def for_path(path: str) -> tuple[Entry, ...]:
    """Every entry of a path, whatever the method or version."""
    path = _normal(path)
    return tuple(e for e in entries() if e.path == path)


def version_for(method: str, path: str) -> str | None:
    """The ``x-version`` a path needs, or None when the catalog does not know it."""
    entry = find(method, path)
    return entry.version if entry is not None else None


def is_trading(method: str, path: str) -> bool:
    """Whether ``method path`` places, replaces or cancels an order."""
    return any(e.trading for e in _index().get((method.upper(), _normal(path)), ()))


def paths(method: str | None = None, prefix: str = "") -> list[str]:
    """Distinct paths (of one method, if given) starting with ``prefix``, sorted."""
    wanted = method.upper() if method else None
    return sorted(
        {
            e.path
            for e in entries()
            if (wanted is None or e.method == wanted) and e.path.startswith(prefix)
        }
    )


def search(text: str = "") -> list[Entry]:
    """Entries whose method, path, description or SDK call contains every word of ``text``."""
    words = text.lower().split()
    return [
        e
        for e in entries()
        if all(w in f"{e.method} {e.path} {e.description} {e.sdk}".lower() for w in words)
    ]


def check_params(entry: Entry, names: Iterable[str], *, where: str | None = None) -> None:
    """Refuse unknown or missing parameter names before anything is sent (``ParameterError``)."""
    given = list(names)
    known = [p.name for p in entry.params if where is None or p.where == where]
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            accepted = ", ".join(known) if known else "none"
            raise ParameterError(
                f"{entry.method} {entry.path} has no parameter {name!r}: {hint}it takes {accepted}"
            )
    lacking = [n for n in entry.required if n not in given and (where is None or n in known)]
    if lacking:
        raise ParameterError(
            f"{entry.method} {entry.path} needs {', '.join(lacking)} (usage: {entry.usage()})"
        )
