"""The webull-nb token panel in a marimo app: ``marimo run notebooks/marimo_panel.py``.

With WEBULL_APP_KEY and WEBULL_APP_SECRET set it talks to your account; without them it starts
the embedded simulator and draws its simulated phone inside the panel.
"""

import marimo

app = marimo.App(app_title="webull-nb token")


@app.cell
def _():
    import os

    import marimo as mo

    import webull_nb

    if os.environ.get("WEBULL_APP_KEY") and os.environ.get("WEBULL_APP_SECRET"):
        token_panel = webull_nb.panel()
    else:
        from webull_nb.simulator import Simulator

        token_panel = webull_nb.panel(simulator=Simulator().start())
    view = mo.ui.anywidget(token_panel)
    view  # noqa: B018 (marimo shows the last expression of a cell)
    return


if __name__ == "__main__":
    app.run()
