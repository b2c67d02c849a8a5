"""One catalog call as the shape builders read it: its endpoint, parameters and moment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webull_nb.core.catalog import Entry
from webull_nb.simulator.replies import SimulatorError

__all__ = ["MAX_SYMBOLS", "Call", "invalid"]

# Webull's documented cap on one snapshot request; larger batches are refused, not truncated.
MAX_SYMBOLS = 100


def invalid(message: str) -> SimulatorError:
    """The refusal of a request whose parameters are wrong (HTTP 400 INVALID_PARAMETER)."""
    return SimulatorError(400, "INVALID_PARAMETER", message)


@dataclass(frozen=True)
class Call:
    """An authenticated request for one catalog endpoint: what a builder answers."""

    entry: Entry
    params: Mapping[str, Any]
    now: float

    @property
    def path(self) -> str:
        """The endpoint's path."""
        return self.entry.path

    @property
    def tail(self) -> str:
        """The path's last segment that names a thing (``balance-sheets`` of ``.../get``)."""
        parts = [p for p in self.path.split("/") if p]
        while len(parts) > 1 and parts[-1] in ("get", "list"):
            parts.pop()
        return parts[-1]

    def text(self, name: str, default: str = "") -> str:
        """A parameter as text (a JSON list joined with commas), or ``default``."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return str(value)

    def items(self, name: str) -> list[str]:
        """A list parameter (a JSON list or comma-separated text), upper-cased, blanks dropped."""
        return [s.strip().upper() for s in self.text(name).split(",") if s.strip()]

    def symbols(self, default: tuple[str, ...] = ()) -> list[str]:
        """The ``symbols`` (or ``symbol``) asked for, at most MAX_SYMBOLS, else ``default``."""
        found = self.items("symbols") or self.items("symbol")
        if len(found) > MAX_SYMBOLS:
            raise invalid(f"at most {MAX_SYMBOLS} symbols per request")
        return found or list(default)

    def symbol(self, default: str = "AAPL") -> str:
        """The one symbol asked for (the first of ``symbols``), or ``default``."""
        found = self.symbols()
        return found[0] if found else default

    def integer(self, name: str, default: int, high: int) -> int:
        """A whole-number parameter between 1 and ``high``, or ``default`` when absent."""
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"{name} must be a whole number, not {raw!r}") from None
        if not 1 <= value <= high:
            raise invalid(f"{name} must be between 1 and {high}")
        return value

    def milliseconds(self, name: str) -> float | None:
        """A time parameter in epoch milliseconds, as epoch seconds (None when absent)."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            return int(raw) / 1000
        except ValueError:
            raise invalid(f"{name} must be epoch milliseconds, not {raw!r}") from None
