"""A session for later cells: credentials, the model, signed requests, waiting, the SDK."""

from webull_nb.session.session import Session, current

__all__ = ["Session", "current"]
