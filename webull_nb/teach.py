"""Exercises that check themselves, for teaching: ``webull_nb.teach.check_signature`` and
the polling and recovery checkers (they live in :mod:`webull_nb.ui.exercises`)."""

from webull_nb.ui.exercises import *  # noqa: F403
from webull_nb.ui.exercises import __all__  # noqa: F401
