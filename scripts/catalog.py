#!/usr/bin/env python3
"""Write webull_nb/core/catalog.json: every HTTP endpoint the installed official SDK calls.

Usage: python scripts/catalog.py [--check]

It reads facts from ``webull-openapi-python-sdk`` (install it: ``pip install
'webull-nb[sdk]'``): each request class's method, path and ``x-version`` (by building one),
the query or body parameter names its setters add (by reading their syntax tree), and which
parameters the SDK's client methods always pass (a parameter with no default value is
required). Nothing of the SDK's text is copied: the one-line descriptions are made here
from the client method's name. Re-run it when a new SDK version comes out; ``--check``
exits 1 when the checked-in catalog lacks an endpoint the installed SDK calls.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).resolve().parent.parent / "webull_nb" / "core" / "catalog.json"
SDK_DISTRIBUTION = "webull-openapi-python-sdk"
_ADDERS = {"add_query_param": "query", "add_body_params": "body"}
# The client classes users hold, and the attribute each operation group hangs on.
_CLIENTS = ("webull.data.data_client.DataClient", "webull.trade.trade_client.TradeClient")
# The last path segment of a call that moves money or changes an order.
_TRADING_VERBS = ("place", "replace", "cancel", "batch-place")


def _modules() -> list[Any]:
    import webull

    found = []
    for info in pkgutil.walk_packages(webull.__path__, "webull."):
        if "_pb2" in info.name:
            continue  # generated gRPC stubs: no HTTP requests there
        found.append(importlib.import_module(info.name))
    return found


def _request_classes(modules: list[Any]) -> list[type]:
    from webull.core.request import ApiRequest

    classes = []
    for module in modules:
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, ApiRequest)
                and value is not ApiRequest
                and value.__module__ == module.__name__
            ):
                classes.append(value)
    return classes


def _tree_of(obj: Any) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(obj)))


def _setters(cls: type) -> dict[str, list[tuple[str, str]]]:
    """setter name -> [(where, parameter name)] from the ``add_*`` calls in its body."""
    found: dict[str, list[tuple[str, str]]] = {}
    for node in ast.walk(_tree_of(cls)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in _ADDERS
                and call.args
                and isinstance(call.args[0], ast.Constant)
                and isinstance(call.args[0].value, str)
            ):
                found.setdefault(node.name, []).append(
                    (_ADDERS[call.func.attr], call.args[0].value)
                )
    return found


def _constructions(tree: ast.AST, target_type: type[ast.expr]) -> list[tuple[Any, str]]:
    """Every ``target = Name(...)`` in ``tree``: (the target node, the called name)."""
    return [
        (node.targets[0], node.value.func.id)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], target_type)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    ]


def _client_paths() -> dict[type, str]:
    """Operation class -> how users reach it, e.g. ``DataClient.market_data``."""
    paths: dict[type, str] = {}
    for dotted in _CLIENTS:
        module_name, _, class_name = dotted.rpartition(".")
        module = importlib.import_module(module_name)
        client = getattr(module, class_name)
        for target, called in _constructions(_tree_of(client.__init__), ast.Attribute):
            operations = getattr(module, called, None)
            if inspect.isclass(operations):
                paths[operations] = f"{class_name}.{target.attr}"
    return paths


class _Use:
    """One client method that builds a request: its name and which parameters it always sets."""

    def __init__(self, sdk: str, name: str) -> None:
        self.sdk = sdk
        self.name = name
        self.required_setters: set[str] = set()
        self.setters: set[str] = set()


def _conditional_lines(function: ast.FunctionDef) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, (ast.If, ast.IfExp, ast.For, ast.While, ast.Try)):
            for inner in ast.walk(node):
                if hasattr(inner, "lineno") and inner is not node:
                    lines.add(inner.lineno)
    return lines


def _uses(modules: list[Any], requests: list[type]) -> dict[type, list[_Use]]:
    """Request class -> the client methods that build one, with the setters they always call."""
    known = set(requests)
    client_paths = _client_paths()
    uses: dict[type, list[_Use]] = {}
    for module in modules:
        for owner in vars(module).values():
            if not inspect.isclass(owner) or owner.__module__ != module.__name__ or owner in known:
                continue
            try:
                tree = _tree_of(owner)
            except (OSError, TypeError):
                continue
            prefix = client_paths.get(owner, f"{owner.__module__}.{owner.__name__}")
            for function in tree.body[0].body if isinstance(tree.body[0], ast.ClassDef) else []:
                if isinstance(function, ast.FunctionDef):
                    _collect(module, function, known, f"{prefix}.{function.name}", uses)
    return uses


def _collect(
    module: Any, function: ast.FunctionDef, known: set[type], sdk: str, uses: dict[type, list[_Use]]
) -> None:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    without_default = {a.arg for a in positional[: len(positional) - len(arguments.defaults)]}
    without_default |= {
        a.arg
        for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
        if default is None
    }
    without_default.discard("self")
    conditional = _conditional_lines(function)
    built: dict[str, tuple[type, _Use]] = {}
    for target, called in _constructions(function, ast.Name):
        cls = getattr(module, called, None)
        if cls in known:
            use = _Use(sdk, function.name)
            built[target.id] = (cls, use)
            uses.setdefault(cls, []).append(use)
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in built
        ):
            continue
        _, use = built[node.func.value.id]
        setter = node.func.attr
        use.setters.add(setter)
        values = [*node.args, *(k.value for k in node.keywords)]
        if (
            node.lineno not in conditional
            and values
            and all(isinstance(v, ast.Name) and v.id in without_default for v in values)
        ):
            use.required_setters.add(setter)


def _describe(use: _Use | None, cls: type) -> str:
    if use is None:
        # No client method builds it: its class name is the only name it has.
        name = re.sub(r"Request(V\d+)?$", "", cls.__name__)
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
    else:
        words = use.name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def extract() -> list[dict[str, Any]]:
    """Every (method, path, x-version) the installed SDK builds, with its parameters."""
    modules = _modules()
    requests = _request_classes(modules)
    uses = _uses(modules, requests)
    entries: dict[tuple[str, str, str], dict[str, Any]] = {}
    for cls in requests:
        request = cls()
        method = (request.get_method() or "GET").upper()
        path = request.get_action_name()
        version = request.get_version() or ""
        setters = _setters(cls)
        cls_uses = uses.get(cls, [])
        # The client method that builds it with the most setters is its main use.
        main = max(cls_uses, key=lambda u: (len(u.setters), u.sdk), default=None)
        required_setters = (
            set.intersection(*(u.required_setters for u in cls_uses)) if cls_uses else set()
        )
        params: dict[str, dict[str, Any]] = {}
        for setter, added in sorted(setters.items()):
            for where, name in added:
                param = params.setdefault(name, {"name": name, "in": where, "required": False})
                if setter in required_setters:
                    param["required"] = True
        for name in request.get_query_params() or {}:
            params.setdefault(name, {"name": name, "in": "query", "required": False})
        for name in request.get_body_params() or {}:
            params.setdefault(name, {"name": name, "in": "body", "required": False})
        entry = {
            "method": method,
            "path": path,
            "version": version,
            "params": sorted(params.values(), key=lambda p: (not p["required"], p["name"])),
            "description": _describe(main, cls),
            "sdk": f"{main.sdk}" if main else "",
            "trading": method == "POST"
            and "order" in path
            and path.rsplit("/", 1)[-1] in _TRADING_VERBS,
        }
        key = (method, path, version)
        if key in entries and entries[key]["sdk"] and not entry["sdk"]:
            continue  # two classes for one endpoint: keep the one a client method uses
        entries[key] = entry
    return sorted(entries.values(), key=lambda e: (e["path"], e["method"], e["version"]))


def document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The catalog file's content."""
    return {
        "about": (
            "Endpoints that webull-openapi-python-sdk calls, extracted by scripts/catalog.py "
            "(facts: method, path, x-version, parameter names). Do not edit by hand."
        ),
        "sdk_version": importlib.metadata.version(SDK_DISTRIBUTION),
        "endpoints": entries,
    }


def render(content: dict[str, Any]) -> str:
    """The file's text: one endpoint per line, so a new SDK version reads as a short diff."""
    head = {k: v for k, v in content.items() if k != "endpoints"}
    lines = [json.dumps(e, ensure_ascii=False) for e in content["endpoints"]]
    body = ",\n  ".join(lines)
    return json.dumps(head, indent=1)[:-2] + f',\n "endpoints": [\n  {body}\n ]\n}}\n'


def missing(catalog: dict[str, Any], entries: list[dict[str, Any]]) -> list[str]:
    """``METHOD path x-version`` of every endpoint the SDK builds that ``catalog`` lacks."""
    have = {(e["method"], e["path"], e["version"]) for e in catalog["endpoints"]}
    return [
        f"{e['method']} {e['path']} {e['version']}"
        for e in entries
        if (e["method"], e["path"], e["version"]) not in have
    ]


def main(argv: list[str] | None = None) -> int:
    """Write the catalog, or with ``--check`` say whether it is stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the catalog is stale")
    args = parser.parse_args(argv)
    entries = extract()
    if args.check:
        lacking = missing(json.loads(CATALOG.read_text("utf-8")), entries)
        for line in lacking:
            print(f"catalog lacks {line}", file=sys.stderr)
        return 1 if lacking else 0
    CATALOG.write_text(render(document(entries)), "utf-8")
    print(f"wrote {len(entries)} endpoints to {CATALOG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
