"""Compatibility: ``webull_nb.client`` lives in :mod:`webull_nb.http.client`."""

from webull_nb.http.client import *  # noqa: F403
from webull_nb.http.client import __all__  # noqa: F401
