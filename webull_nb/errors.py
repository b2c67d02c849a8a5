"""Compatibility: ``webull_nb.errors`` lives in :mod:`webull_nb.core.errors`."""

from webull_nb.core.errors import *  # noqa: F403
from webull_nb.core.errors import __all__  # noqa: F401
