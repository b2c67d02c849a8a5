"""How a store URL is shown in messages: where it is, never its password."""

from __future__ import annotations

import pytest

from webull_nb.shared.redisstore.connect import describe, is_store_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@10.0.0.5:6380/2", "redis://10.0.0.5:6380/2"),
        ("redis://alice:hunter2@redis.internal/0", "redis://alice@redis.internal:6379/0"),
        ("rediss://:hunter2@host:6390", "rediss://host:6390/0"),
        ("unix://:hunter2@/run/redis.sock?db=3", "unix:///run/redis.sock"),
        ("redis:/hunter2", "redis://localhost:6379/?"),  # a password typed in the wrong place
        ("redis://host:port-hunter2/0", "redis://host:?/0"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert describe(url) == shown
    assert "hunter2" not in describe(url)


@pytest.mark.parametrize(
    ("value", "store"),
    [
        ("redis://h:6379/0", True),
        ("REDISS://h", True),
        ("unix:///run/redis.sock", True),
        ("files", False),
        ("/home/me/tokens", False),
        ("http://h:6379", False),
    ],
)
def test_which_values_name_a_redis_store(value: str, store: bool) -> None:
    assert is_store_url(value) is store
