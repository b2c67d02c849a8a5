"""The endpoint catalogue: regions, environments, profiles, explicit URLs."""

from __future__ import annotations

import pytest

from webull_nb.endpoints import API_PROFILES, REGIONS, EndpointError, guide_url, resolve


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "api.webull.com"),
        ("hk", "api.webull.hk"),
        ("uk", "api.webull-uk.com"),
        ("za", "api.webull.com.au"),
        ("eu", "api.webull.eu"),
        ("br", "api.webull.com"),
    ],
)
def test_production_hosts(region: str, host: str) -> None:
    endpoint = resolve(region)
    assert endpoint.base_url == f"https://{host}"
    assert endpoint.host == host


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us", "api.sandbox.webull.com"),
        ("jp", "jp-openapi-alb.uat.webullbroker.com"),
        ("mx", "us-openapi-alb.uat.webullbroker.com"),
        ("za", "au-api.uat.webullbroker.com"),
    ],
)
def test_uat_hosts(region: str, host: str) -> None:
    assert resolve(region, "uat").host == host


@pytest.mark.parametrize("region", ["au", "eu"])
def test_uat_without_published_host_suggests_explicit_endpoint(region: str) -> None:
    with pytest.raises(EndpointError, match="endpoint="):
        resolve(region, "uat")


def test_every_region_has_a_guide_link() -> None:
    assert len(REGIONS) == 12
    assert guide_url("uk") == "https://developer.webull-uk.com/apis/docs/authentication/token"
    assert guide_url("za") == "https://developer.webull.co.za/apis/docs/authentication/token"
    assert all(guide_url(r).startswith("https://developer.webull") for r in REGIONS)


def test_profiles() -> None:
    v2, v3 = API_PROFILES["v2"], API_PROFILES["v3"]
    assert (v2.version, v2.create_path, v2.check_path) == (
        "v2",
        "/openapi/auth/token/create",
        "/openapi/auth/token/check",
    )
    assert (v3.version, v3.create_path, v3.check_path) == (
        "v3",
        "/auth/tokens/create",
        "/auth/tokens/check",
    )
    assert v2.config_path == v3.config_path == "/openapi/config"


def test_explicit_base_url_overrides_region_and_environment() -> None:
    endpoint = resolve("eu", "uat", api="v3", endpoint="http://127.0.0.1:8123/")
    assert endpoint.base_url == "http://127.0.0.1:8123"
    assert endpoint.host == "127.0.0.1:8123"
    assert endpoint.url("/openapi/config") == "http://127.0.0.1:8123/openapi/config"
    assert endpoint.profile.name == "v3"


@pytest.mark.parametrize("bad", ["ftp://x", "http://127.0.0.1:1/api", "http://"])
def test_bad_base_urls(bad: str) -> None:
    with pytest.raises(EndpointError):
        resolve(endpoint=bad)


def test_unknown_region_lists_choices() -> None:
    with pytest.raises(EndpointError, match="us, hk"):
        resolve("zz")
