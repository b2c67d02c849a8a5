"""Compatibility: ``webull_nb.endpoints`` lives in :mod:`webull_nb.core.endpoints`."""

from webull_nb.core.endpoints import *  # noqa: F403
from webull_nb.core.endpoints import __all__  # noqa: F401
