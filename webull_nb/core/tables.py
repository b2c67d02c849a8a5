"""API answers as tables and trees: pure rendering of parsed JSON, in HTML and in plain text.

Server data is untrusted, so every value that reaches HTML is escaped and every control character
that reaches a terminal is shown as an escape sequence. Webull sends amounts as strings
("189.840"); they are shown exactly as sent and never pass through a float. Nothing here does
I/O; pandas is imported only inside ``frame()``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas

__all__ = [
    "MAX_DEPTH",
    "cell_text",
    "columns_of",
    "frame",
    "header_html",
    "header_text",
    "html_table",
    "html_tree",
    "records_of",
    "text_table",
    "text_tree",
]

#: Containers nested deeper than this are shown as "…": a hostile or odd answer must not exhaust
#: the stack of the code that draws it.
MAX_DEPTH = 50
#: Items drawn per list or object in an HTML tree: a huge answer must not freeze the browser.
TREE_ITEMS = 1000
#: Narrowest a text column is squeezed to when the table is wider than the terminal.
MIN_WIDTH = 8

_ELLIPSIS = "…"
_FRAME_EXTRA = "pandas is needed: pip install 'webull-nb[pandas]'"


# C0 and C1 controls (ESC, CSI, ...) would steer a terminal or break a table's alignment;
# they are written the way JSON writes them. json.dumps escapes C0 itself but leaves C1 alone.
_C1 = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}
_CONTROLS = {
    **{c: f"\\u{c:04x}" for c in range(0x20)},
    **_C1,
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}


def _printable(text: str) -> str:
    """Return text with control characters written as escapes (safe for a terminal)."""
    return text.translate(_CONTROLS)


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def records_of(value: Any) -> list[dict[str, Any]] | None:
    """Return the list of records a value holds (itself, or one key of an object), else None."""
    if _is_records(value):
        return value
    if not isinstance(value, dict):
        return None
    if _is_records(value.get("data")):
        return value["data"]
    # Only an unambiguous holder counts: with two lists of records, neither is "the" table.
    holders = [v for v in value.values() if _is_records(v)]
    return holders[0] if len(holders) == 1 else None


def columns_of(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return every key of the records, in the order they first appear (the server's order)."""
    # A dict keeps insertion order, so this is a deterministic ordered set.
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    return list(seen)


def _clip(value: Any, depth: int = 0) -> Any:
    """Return a JSON-ready copy of value with containers below MAX_DEPTH replaced by "…"."""
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return _ELLIPSIS
        return {str(k): _clip(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            return _ELLIPSIS
        return [_clip(v, depth + 1) for v in value]
    return value


def _literal(value: Any) -> str:
    """Return a scalar as a JSON literal (anything not JSON, such as a Decimal, as its text)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(str(value), ensure_ascii=False)


def cell_text(value: Any) -> str:
    """Return how one value reads in a table cell (strings exactly as sent)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: a bool is an int
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(_clip(value), ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _shown_rows(total: int, limit: int) -> str:
    return f"showing first {limit} of {_rows(total)}" if total > limit else _rows(total)


def html_table(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    limit: int = 500,
) -> str:
    """Return the records as an escaped HTML table, with a caption counting the rows."""
    columns = columns_of(records) if columns is None else list(columns)
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell_text(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in records[:limit]
    )
    return (
        '<table class="webull-nb-table" style="border-collapse:collapse">'
        f'<caption style="caption-side:top;text-align:left">'
        f"{escape(_shown_rows(len(records), limit))}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + _ELLIPSIS


def text_table(
    records: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    limit: int = 50,
    width: int = 120,
    keep: Sequence[str] = (),
) -> str:
    """Return the records as an aligned plain-text table, long cells cut with "…" (never
    those of the ``keep`` columns, such as a path that must be read whole)."""
    columns = columns_of(records) if columns is None else list(columns)
    if not columns:
        return _rows(len(records))
    shown = records[:limit]
    header = [_printable(str(c)) for c in columns]
    rows = [[_printable(cell_text(r.get(c))) for c in columns] for r in shown]
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header)]
    # Squeeze the widest column first until the table fits (or nothing is wider than MIN_WIDTH:
    # then the terminal wraps rather than every column becoming unreadable).
    gap = 2
    while sum(widths) + gap * (len(widths) - 1) > width:
        squeezable = [i for i, c in enumerate(columns) if c not in keep]
        if not squeezable:
            break
        widest = max(squeezable, key=widths.__getitem__)
        if widths[widest] <= MIN_WIDTH:
            break
        widths[widest] -= 1
    lines = [
        "  ".join(_fit(cell, w).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, ["-" * w for w in widths], *rows]
    ]
    if len(records) > limit:
        lines.append(_shown_rows(len(records), limit))
    return "\n".join(lines)


def html_tree(value: Any, *, open_levels: int = 1) -> str:
    """Return any JSON value as an escaped, collapsible tree of <details> (no JavaScript)."""
    return (
        '<div class="webull-nb-tree" style="font-family:monospace;line-height:1.4">'
        f"{_tree_node(value, '', 0, open_levels)}</div>"
    )


def _tree_node(value: Any, label: str, depth: int, open_levels: int) -> str:
    """Return one node: a scalar line, or a <details> holding its children."""
    key = f"<b>{escape(label)}</b>: " if label else ""
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
        summary = f"{{{len(items)} key{'' if len(items) == 1 else 's'}}}"
    elif isinstance(value, (list, tuple)):
        items = [(str(i), v) for i, v in enumerate(value)]
        summary = f"[{len(items)} item{'' if len(items) == 1 else 's'}]"
    else:
        return f"<div>{key}{escape(_literal(value))}</div>"
    if not items:
        return f"<div>{key}{'{}' if isinstance(value, Mapping) else '[]'}</div>"
    if depth >= MAX_DEPTH:
        return f"<div>{key}{summary} {_ELLIPSIS}</div>"
    children = "".join(_tree_node(v, k, depth + 1, open_levels) for k, v in items[:TREE_ITEMS])
    if len(items) > TREE_ITEMS:
        children += f"<div>{_ELLIPSIS} {len(items) - TREE_ITEMS} more</div>"
    is_open = " open" if depth < open_levels else ""
    return (
        f"<details{is_open}><summary>{key}{summary}</summary>"
        f'<div style="margin-left:1.5em">{children}</div></details>'
    )


def text_tree(value: Any) -> str:
    """Return any JSON value as indented JSON, nesting below MAX_DEPTH shown as "…"."""
    text = json.dumps(_clip(value), indent=2, ensure_ascii=False, default=str)
    return text.translate(_C1)


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _ms_text(ms: float) -> str:
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:,.0f} ms"


def header_text(
    method: str, path: str, status: int, ms: float, request_id: str | None = None
) -> str:
    """Return the one-line header of an answer: method, path, status, time, request id."""
    parts = [f"{method.upper()} {path}", _status_text(status), _ms_text(ms)]
    if request_id:
        parts.append(f"request {request_id}")
    return _printable(" · ".join(parts))


def header_html(
    method: str, path: str, status: int, ms: float, request_id: str | None = None
) -> str:
    """Return the header line as escaped HTML, colored by the status class."""
    color = "#1a7f37" if 200 <= status < 300 else "#b42318"
    text = escape(header_text(method, path, status, ms, request_id))
    return (
        f'<div class="webull-nb-header" style="font-family:monospace;margin-bottom:4px;'
        f'border-left:3px solid {color};padding-left:6px">{text}</div>'
    )


def frame(value_or_response: Any) -> pandas.DataFrame:
    """Return the records a value (or a response's JSON) holds as a DataFrame, values as sent."""
    try:
        import pandas as pd
    except ImportError as error:
        raise ImportError(_FRAME_EXTRA) from error
    value = value_or_response
    if not isinstance(value, (list, dict)) and callable(getattr(value, "json", None)):
        value = value.json()
    records = records_of(value)
    if records is None:
        kind = (
            f"an object with keys {sorted(map(str, value))[:10]}"
            if isinstance(value, dict)
            else f"a {type(value).__name__}"
        )
        raise ValueError(
            "No records to make a DataFrame of: expected a list of objects, or an object "
            f'holding one (such as {{"data": [...]}}), got {kind}.'
        )
    df = pd.DataFrame(records, columns=columns_of(records))
    # pandas 3 infers its own string dtype; object keeps the exact strings the same way on
    # every pandas version (and "0.10" is never parsed as a number either way).
    for name in df.columns:
        if pd.api.types.is_string_dtype(df[name].dtype) and df[name].dtype != object:
            df[name] = df[name].astype(object)
    return df
