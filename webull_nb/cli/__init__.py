"""The ``webull-nb`` command: ``demo`` and ``token`` (``webull_nb.cli.main:main``)."""
