"""Regions, environments and API paths of the Webull OpenAPI: data only, no I/O."""

from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from webull_nb.core.errors import EndpointError

__all__ = [
    "API_PROFILES",
    "ENVIRONMENTS",
    "PROD_HOSTS",
    "REGIONS",
    "UAT_HOSTS",
    "ApiProfile",
    "Endpoint",
    "EndpointError",
    "guide_url",
    "resolve",
]

# Production API hosts, as in the official SDK's endpoint table.
PROD_HOSTS: dict[str, str] = {
    "us": "api.webull.com",
    "hk": "api.webull.hk",
    "jp": "api.webull.co.jp",
    "sg": "api.webull.com.sg",
    "th": "api.webull.co.th",
    "au": "api.webull.com.au",
    "my": "api.webull.com.my",
    "uk": "api.webull-uk.com",
    "br": "api.webull.com",
    "mx": "api.webull.com",
    "za": "api.webull.com.au",
    "eu": "api.webull.eu",
}

# Test (UAT) hosts. au and eu have none published.
UAT_HOSTS: dict[str, str] = {
    "us": "api.sandbox.webull.com",
    "hk": "api.sandbox.webull.hk",
    "jp": "jp-openapi-alb.uat.webullbroker.com",
    "sg": "sg-api.uat.webullbroker.com",
    "th": "th-api.uat.webullbroker.com",
    "my": "my-api.uat.webullbroker.com",
    "uk": "uk-api.uat.webullbroker.com",
    "mx": "us-openapi-alb.uat.webullbroker.com",
    "br": "us-openapi-alb.uat.webullbroker.com",
    "za": "au-api.uat.webullbroker.com",
}

# Developer-site domain per region, for the 2FA guide link.
_DEVELOPER_DOMAINS: dict[str, str] = {
    "us": "webull.com",
    "hk": "webull.hk",
    "jp": "webull.co.jp",
    "sg": "webull.com.sg",
    "th": "webull.co.th",
    "au": "webull.com.au",
    "my": "webull.com.my",
    "uk": "webull-uk.com",
    "br": "webull.com.br",
    "mx": "webull.com.mx",
    "za": "webull.co.za",
    "eu": "webull.eu",
}

REGIONS: tuple[str, ...] = tuple(PROD_HOSTS)
ENVIRONMENTS: tuple[str, ...] = ("prod", "uat")
CONFIG_PATH = "/openapi/config"


@dataclass(frozen=True)
class ApiProfile:
    """Paths and version header of one flavour of the token API."""

    name: str
    version: str
    create_path: str
    check_path: str
    config_path: str = CONFIG_PATH


API_PROFILES: dict[str, ApiProfile] = {
    # The documented API.
    "v2": ApiProfile("v2", "v2", "/openapi/auth/token/create", "/openapi/auth/token/check"),
    # What the official SDK 3.x sends.
    "v3": ApiProfile("v3", "v3", "/auth/tokens/create", "/auth/tokens/check"),
}


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: the base URL, the Host that gets signed, and the token API profile."""

    base_url: str
    region: str
    environment: str
    profile: ApiProfile

    @property
    def host(self) -> str:
        """Return ``host`` or ``host:port`` exactly as the Host header carries it."""
        return urlsplit(self.base_url).netloc

    @property
    def guide_url(self) -> str:
        """Return the region's 2FA guide on Webull's developer site."""
        return guide_url(self.region)

    def url(self, path: str) -> str:
        """Return the absolute URL of a decoded API path (what gets signed).

        ``%``, ``?`` and ``#`` are escaped so that the server, which decodes the path before
        checking the signature, sees exactly ``path``; ``requests`` escapes the rest.
        """
        escaped = path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")
        return self.base_url + escaped


# What people call the environments elsewhere (Webull's own docs say "test" and "sandbox").
_ALIASES: dict[str, str] = {
    "test": "uat",
    "testing": "uat",
    "sandbox": "uat",
    "paper": "uat",
    "dev": "uat",
    "production": "prod",
    "live": "prod",
    "real": "prod",
}


def _choice(kind: str, value: str, options: tuple[str, ...] | list[str]) -> str:
    if value is not None and not isinstance(value, str):
        raise EndpointError(f"{kind} must be a str such as {options[0]!r}, not {value!r}")
    normalized = (value or "").strip().lower()
    if normalized not in options:
        guess = _ALIASES.get(normalized) if kind == "environment" else None
        if guess is None:
            close = difflib.get_close_matches(normalized, options, n=1, cutoff=0.6)
            guess = close[0] if close else None
        hint = f"did you mean {guess!r}?" if guess else f"choose one of {', '.join(options)}"
        raise EndpointError(f"unknown {kind} {value!r}: {hint}")
    return normalized


def guide_url(region: str) -> str:
    """Return the 2FA guide link for a region."""
    region = _choice("region", region, REGIONS)
    return f"https://developer.{_DEVELOPER_DOMAINS[region]}/apis/docs/authentication/token"


def _is_local(hostport: str) -> bool:
    """Whether ``host[:port]`` (no scheme) names this machine."""
    host = urlsplit("//" + hostport).hostname or ""
    if host in ("localhost", "localhost.") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _normalize_base_url(endpoint: str) -> str:
    text = endpoint.strip()
    if "://" not in text:
        if _is_local(text):
            # https:// would be assumed, and a local simulator speaks plain HTTP: the user
            # would see a TLS failure that talks about certificates.
            raise EndpointError(
                f"endpoint {endpoint!r} has no scheme, and a local simulator needs http://: "
                f"use http://{text.rstrip('/')}"
            )
        text = "https://" + text
    text = text.rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EndpointError(
            f"endpoint {endpoint!r} is not a base URL such as http://127.0.0.1:8123"
        )
    if parts.path or parts.query or parts.fragment:
        raise EndpointError(f"endpoint {endpoint!r} must not contain a path or query")
    return f"{parts.scheme}://{parts.netloc}"


def resolve(
    region: str = "us",
    environment: str = "prod",
    api: str = "v2",
    endpoint: str | None = None,
) -> Endpoint:
    """Return the endpoint for a region and environment, or for an explicit base URL."""
    region = _choice("region", region, REGIONS)
    environment = _choice("environment", environment, ENVIRONMENTS)
    profile = API_PROFILES[_choice("API profile", api, list(API_PROFILES))]
    if endpoint:
        return Endpoint(_normalize_base_url(endpoint), region, environment, profile)
    hosts = PROD_HOSTS if environment == "prod" else UAT_HOSTS
    host = hosts.get(region)
    if host is None:
        raise EndpointError(
            f"Webull publishes no {environment} API host for region {region!r}; "
            "pass endpoint='https://<host>' explicitly"
        )
    return Endpoint(f"https://{host}", region, environment, profile)
