"""Compatibility: ``webull_nb.signing`` lives in :mod:`webull_nb.core.signing`."""

from webull_nb.core.signing import *  # noqa: F403
from webull_nb.core.signing import __all__  # noqa: F401
