"""``python -m webull_nb.cli``: the ``webull-nb`` command without its console script."""

import sys

from webull_nb.cli.main import main

sys.exit(main())
