"""Query parameters as they are signed and sent: the rules ``requests`` applies to ``params=``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

__all__ = ["Query", "query_pairs"]

Query = Mapping[str, object] | Iterable[tuple[str, object]] | str | None

# Value types whose query text is plain str(value), as requests sends them.
_PLAIN = frozenset({str, int, float})


def _text(value: object, what: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            # The server decodes query bytes as UTF-8; other bytes cannot be signed for it.
            raise ValueError(f"query {what} {bytes(value)!r} is not UTF-8: pass str") from None
    return str(value)


def query_pairs(query: Query) -> list[tuple[str, str]]:
    """Normalise query parameters into the ``(key, value)`` pairs that are signed and sent.

    The rules are those ``requests`` applies to ``params=``, so signing ``p`` and sending
    ``requests.get(url, params=p)`` agree: a mapping or an iterable of ``(key, value)``
    pairs; ``None`` values are dropped (not signed as ``"None"``); bytes are UTF-8 text;
    a list, tuple or other iterable value becomes repeated keys (``b=1&b=2``, signed as
    ``b=1&2``); anything else is ``str(value)``. A ``str`` is a raw query string such as
    ``"a=1&b=2"`` and is parsed the way the server parses it.

    The official SDK signs and sends a list value as its Python repr (``"[1, 2]"``); to
    get exactly that, pass ``str(value)``.
    """
    if not query:
        return []
    if type(query) is dict:
        # The common case, a plain dict of str and int values, without the general rules.
        pairs = [
            (key, value if type(value) is str else str(value))
            for key, value in query.items()
            if type(key) is str and type(value) in _PLAIN
        ]
        if len(pairs) == len(query):
            return pairs
    if isinstance(query, (str, bytes)):
        text = _text(query, "string")
        return parse_qsl(text, keep_blank_values=True)
    if isinstance(query, Mapping):
        items: Iterable[object] = query.items()
    elif isinstance(query, Iterable):
        items = query
    else:
        raise TypeError(
            f"query must be a mapping, (key, value) pairs or a query string, "
            f"not {type(query).__name__}"
        )
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(
                f"query items must be (key, value) pairs, not {item!r}: pass a mapping "
                "such as {'a': 1}, pairs such as [('a', 1)], or a string such as 'a=1'"
            )
        key, value = item
        name = key if type(key) is str else _text(key, "key")
        # Exact str first: nearly every query value is one, and signing is hot.
        if type(value) is str:
            pairs.append((name, value))
            continue
        if value is None:
            continue
        if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
            pairs.append((name, _text(value, f"value of {name!r}")))
            continue
        if isinstance(value, Mapping):
            raise TypeError(
                f"query value of {name!r} is a {type(value).__name__}: pass a str, a number "
                "or a list of them (a JSON object belongs in the body)"
            )
        for element in value:
            if element is None:
                continue
            if not isinstance(element, (str, bytes, bytearray)) and isinstance(element, Iterable):
                raise TypeError(f"query value of {name!r} nests {element!r}: flatten it")
            pairs.append((name, _text(element, f"value of {name!r}")))
    return pairs
