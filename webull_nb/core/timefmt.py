"""Time as people read it: one countdown format for every surface, UTC datetimes from epochs."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["countdown", "utc", "utc_text", "within"]


def countdown(seconds: float) -> str:
    """Format seconds left as ``m:ss``, rounded up and never negative."""
    # webull_nb/ui/static/panel.js mmss() draws the same in the browser: change both together.
    whole = max(0, int(seconds + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"


def within(seconds: float | None) -> str:
    """Return `` within m:ss`` for a known time left, else nothing."""
    return f" within {countdown(seconds)}" if seconds is not None else ""


def utc(epoch: float) -> datetime:
    """A timezone-aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def utc_text(when: datetime) -> str:
    """A moment as every view writes it: ``2026-12-19 19:06 UTC``."""
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
