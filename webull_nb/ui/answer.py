"""What ``%webull get`` returns: the parsed answer itself, drawn richly where the cell shows it.

``JsonList`` and ``JsonDict`` are the parsed JSON (equal to it, a real list or dict, picklable,
``json.dumps``-able) so ``_`` and ``x = %webull get ...`` are plain data; they only add a
read-only ``.meta`` and the display methods IPython looks for. ``ErrorBox`` shows a typed error's
message instead of a traceback, ``Listing`` a titled table (the catalog, the request log).
No widgets: these render in a terminal, in nbconvert and in any notebook front end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from webull_nb.core import tables

if TYPE_CHECKING:
    import pandas
    from IPython.lib.pretty import RepresentationPrinter

__all__ = ["ErrorBox", "JsonDict", "JsonList", "Listing", "Meta", "shown"]


@dataclass(frozen=True)
class Meta:
    """How an answer came: method, path, HTTP status, milliseconds taken, the request id."""

    method: str
    path: str
    status: int
    ms: float
    request_id: str | None = None

    def header_text(self) -> str:
        """Return the one-line header in plain text."""
        return tables.header_text(self.method, self.path, self.status, self.ms, self.request_id)

    def header_html(self) -> str:
        """Return the one-line header as escaped HTML."""
        return tables.header_html(self.method, self.path, self.status, self.ms, self.request_id)

    # So a caller showing a scalar answer (a str, a number, null) can display the header alone.
    def _repr_html_(self) -> str:
        return self.header_html()

    def _repr_pretty_(self, p: RepresentationPrinter, cycle: bool) -> None:
        p.text(self.header_text())


def _frame_html(records: list[dict[str, Any]]) -> str | None:
    """Return the records drawn as pandas draws a DataFrame, or None without pandas."""
    try:
        import pandas as pd
    except ImportError:
        return None
    df = tables.frame(records)
    # The user's pandas display options decide how much is drawn, as for any DataFrame.
    return df.to_html(
        max_rows=pd.get_option("display.max_rows"),
        max_cols=pd.get_option("display.max_columns"),
        show_dimensions=True,
        notebook=True,
        escape=True,
    )


class _Shown:
    """The display methods JsonList and JsonDict share; ``self`` is the parsed value."""

    __slots__ = ()
    _meta: Meta

    @property
    def meta(self) -> Meta:
        """How this answer came (method, path, status, time, request id)."""
        return self._meta

    def frame(self) -> pandas.DataFrame:
        """Return the records this answer holds as a DataFrame (needs webull-nb[pandas])."""
        return tables.frame(self)

    def _parts(self) -> tuple[list[dict[str, Any]] | None, dict[str, Any]]:
        """Return the records (if any) and, for an object holding them, its other keys."""
        records = tables.records_of(self)
        if records is None or records is self or not isinstance(self, dict):
            return records, {}
        return records, {k: v for k, v in self.items() if v is not records}

    def _text(self) -> str:
        records, rest = self._parts()
        body = tables.text_tree(self) if records is None else tables.text_table(records)
        if rest:
            body += "\n" + tables.text_tree(rest)
        return f"{self._meta.header_text()}\n{body}"

    def _html(self) -> str:
        records, rest = self._parts()
        if records is None:
            body = tables.html_tree(self)
        else:
            body = _frame_html(records) or tables.html_table(records)
        if rest:
            # The rest of the object (paging tokens, totals) stays visible beside the table.
            body += tables.html_tree(rest)
        return f'<div class="webull-nb-answer">{self._meta.header_html()}{body}</div>'

    def _repr_mimebundle_(
        self, include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
    ) -> dict[str, str]:
        """Return the HTML and plain-text views (only those include/exclude let through)."""
        makers = {"text/html": self._html, "text/plain": self._text}
        wanted = [
            mime
            for mime in makers
            if (include is None or mime in include) and (exclude is None or mime not in exclude)
        ]
        return {mime: makers[mime]() for mime in wanted}

    def _repr_pretty_(self, p: RepresentationPrinter, cycle: bool) -> None:
        p.text(self._text())


class JsonList(_Shown, list):
    """A parsed JSON list that shows itself as a table (or tree), with ``.meta``."""

    __slots__ = ("_meta",)

    def __init__(self, value: Iterable[Any], meta: Meta) -> None:
        super().__init__(value)
        self._meta = meta

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the list and its meta."""
        return (JsonList, (list(self), self._meta))


class JsonDict(_Shown, dict):
    """A parsed JSON object that shows itself as a tree (or the table it holds), with ``.meta``."""

    __slots__ = ("_meta",)

    def __init__(self, value: Mapping[str, Any], meta: Meta) -> None:
        super().__init__(value)
        self._meta = meta

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the dict and its meta."""
        return (JsonDict, (dict(self), self._meta))


def shown(value: Any, meta: Meta) -> Any:
    """Return a parsed value that displays richly: lists and dicts wrapped, scalars as they are."""
    if isinstance(value, list):
        return JsonList(value, meta)
    if isinstance(value, dict):
        return JsonDict(value, meta)
    return value


class ErrorBox:
    """A typed error's message shown in a box, in place of a traceback."""

    def __init__(self, title: str, message: str) -> None:
        self.title = title
        self.message = message

    @classmethod
    def of(cls, error: BaseException) -> ErrorBox:
        """Return the box for an exception: its class name and its message."""
        return cls(type(error).__name__, str(error))

    def __repr__(self) -> str:
        return f"{self.title}: {self.message}"

    def _repr_pretty_(self, p: RepresentationPrinter, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        return (
            '<div class="webull-nb-error" style="border:1px solid #d92d20;border-left-width:4px;'
            'border-radius:4px;padding:6px 10px;margin:4px 0;white-space:pre-wrap">'
            f'<b style="color:#b42318">{escape(self.title)}</b>: {escape(self.message)}</div>'
        )


class Listing:
    """A titled table of rows (dicts), such as the endpoint catalog or the request log."""

    def __init__(
        self,
        title: str,
        rows: Sequence[Mapping[str, Any]],
        columns: Sequence[str] | None = None,
        *,
        limit: int | None = None,
        keep: Sequence[str] = ("path",),
    ) -> None:
        self.title = title
        self.keep = tuple(keep)  # columns a terminal shows whole
        self.rows = list(rows)
        self.columns = tables.columns_of(self.rows) if columns is None else list(columns)
        # A listing is read whole (the catalog is ~150 rows, the log 200): no cut unless asked.
        self.limit = len(self.rows) if limit is None else limit

    def __repr__(self) -> str:
        table = tables.text_table(self.rows, self.columns, limit=self.limit, keep=self.keep)
        return f"{self.title}\n{table}"

    def _repr_pretty_(self, p: RepresentationPrinter, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        table = tables.html_table(self.rows, self.columns, limit=self.limit)
        return f'<div class="webull-nb-listing"><b>{escape(self.title)}</b>{table}</div>'
