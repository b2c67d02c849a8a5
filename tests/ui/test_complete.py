"""Completing ``%webull`` lines from the catalog (the text before the cursor in, words out)."""

from __future__ import annotations

import pytest

from webull_nb.ui.complete import candidates, register


def test_subcommands_then_paths_then_parameter_names() -> None:
    assert candidates("%webull g") == ("g", ["get"])
    assert candidates("%webull get /openapi/acc") == ("/openapi/acc", ["/openapi/account/list"])
    assert candidates("%webull post /trading/orders/pl") == (
        "/trading/orders/pl",
        ["/trading/orders/place"],
    )
    line = "%webull get /market-data/stocks/snapshots/list "
    assert candidates(line + "sy") == ("sy", ["symbols="])
    # A name already given is not offered again.
    assert "symbols=" not in candidates(line + "symbols=AAPL ")[1]
    assert candidates(line + "--c") == ("--c", ["--confirm"])
    assert candidates("%%webull post /trading/orders/place --") == (
        "--",
        ["--confirm", "--version"],
    )


def test_get_offers_only_get_paths() -> None:
    _, paths = candidates("%webull get /trading/orders/")
    assert "/trading/orders/open-orders/list" in paths
    assert "/trading/orders/place" not in paths


def test_other_text_is_left_to_ipython() -> None:
    assert candidates("print('%webull get /openapi/acc") is None
    assert candidates("x = 1") is None
    assert candidates('%webull get "/openapi/acc') is None  # an open quote
    assert candidates("%webull get /nope/ sym") is None  # an unknown path has no names


def test_the_matcher_answers_the_shell_and_registers_once() -> None:
    ipython = pytest.importorskip("IPython")
    from IPython.core.completer import provisionalcompleter
    from IPython.core.interactiveshell import InteractiveShell

    del ipython
    shell = InteractiveShell.instance()
    register(shell)
    register(shell)
    assert sum("webull_matcher" in m.__qualname__ for m in shell.Completer.custom_matchers) == 1
    text = "%webull get /openapi/acc"
    with provisionalcompleter():
        found = [c.text for c in shell.Completer.completions(text, len(text))]
    assert found == ["/openapi/account/list"]
