"""Egress settings read as the AWS SDKs read them: proxies, NO_PROXY, CA bundle, FIPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from awsra.client import resolve_endpoint
from awsra.egress import ca_bundle, pool_for, proxy_for, use_fips


def test_https_urls_use_https_proxy_and_http_urls_http_proxy() -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://plain:8080"}
    assert proxy_for("https://rolesanywhere.us-east-1.amazonaws.com", environ) == (
        "http://proxy:3128"
    )
    assert proxy_for("http://127.0.0.1:4566", environ) == "http://plain:8080"
    assert proxy_for("https://sts.amazonaws.com", {}) is None


def test_lower_case_wins_and_a_bare_host_gets_http() -> None:
    environ = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "lower:2"}
    assert proxy_for("https://sts.amazonaws.com", environ) == "http://lower:2"


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("*", "https://sts.amazonaws.com", True),
        ("amazonaws.com", "https://sts.amazonaws.com", True),
        (".amazonaws.com", "https://rolesanywhere.eu-west-1.amazonaws.com", True),
        ("example.com,localhost", "https://localhost:8443", True),
        ("example.com", "https://sts.amazonaws.com", False),
        ("", "https://sts.amazonaws.com", False),
    ],
)
def test_no_proxy(no_proxy: str, url: str, bypassed: bool) -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    assert (proxy_for(url, environ) is None) is bypassed


def test_fips_endpoints_follow_the_sdk_convention() -> None:
    assert resolve_endpoint("us-east-1", "aws", environ={"AWS_USE_FIPS_ENDPOINT": "true"}) == (
        "https://rolesanywhere-fips.us-east-1.amazonaws.com"
    )
    assert resolve_endpoint(
        "us-gov-west-1", "aws-us-gov", environ={"AWS_USE_FIPS_ENDPOINT": "true"}
    ) == ("https://rolesanywhere-fips.us-gov-west-1.amazonaws.com")
    assert resolve_endpoint("us-east-1", "aws", environ={"AWS_USE_FIPS_ENDPOINT": "false"}) == (
        "https://rolesanywhere.us-east-1.amazonaws.com"
    )
    # An explicit endpoint (the sandbox, a VPC endpoint) is used as it is.
    explicit = {"AWS_USE_FIPS_ENDPOINT": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
    assert resolve_endpoint("us-east-1", "aws", environ=explicit) == "http://127.0.0.1:4566"


def test_a_bad_fips_value_is_refused() -> None:
    assert use_fips({}) is False
    with pytest.raises(ValueError, match="AWS_USE_FIPS_ENDPOINT must be true or false"):
        use_fips({"AWS_USE_FIPS_ENDPOINT": "yes please"})


def test_ca_bundle_must_exist_and_pools_are_shared(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert ca_bundle({"AWS_CA_BUNDLE": str(bundle)}) == str(bundle)
    with pytest.raises(ValueError, match="not a readable file"):
        ca_bundle({"AWS_CA_BUNDLE": str(tmp_path / "nope.pem")})
    environ = {"HTTPS_PROXY": "http://user:p%40ss@proxy:3128"}
    first = pool_for("https://sts.amazonaws.com", environ)
    assert first is pool_for("https://rolesanywhere.us-east-1.amazonaws.com", environ)
    # Credentials in the proxy URL become a Proxy-Authorization header, not part of the URL.
    assert first.proxy is not None and first.proxy.auth is None  # type: ignore[attr-defined]
    assert first.proxy_headers["proxy-authorization"].startswith("Basic ")  # type: ignore[attr-defined]
