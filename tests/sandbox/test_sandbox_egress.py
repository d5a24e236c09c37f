"""awsra reaches AWS as the SDKs do: through HTTPS_PROXY (a CONNECT tunnel), trusting
AWS_CA_BUNDLE, bypassing the proxy for NO_PROXY hosts.

The sandbox sits behind a TLS front whose certificate comes from a CA generated here (so only
AWS_CA_BUNDLE makes it trusted), and a local CONNECT proxy counts the tunnels it opens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import awsra
from awsra import federation
from awsra.errors import AwsError, ServerError
from tests.sandbox.egress_support import ConnectProxy, TlsFront, make_tls_files
from tests.sandbox.sandbox_helpers import Scenario

EGRESS_VARIABLES = (
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "AWS_CA_BUNDLE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ROLESANYWHERE",
    "ROLEGATE_AWS_SIGNIN_URL",
    "AWS_USE_FIPS_ENDPOINT",
)


@dataclass
class Egress:
    endpoint: str  # https://localhost:PORT, the TLS front of the sandbox
    proxy: ConnectProxy
    ca_bundle: Path


@pytest.fixture
def egress(scenario: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Egress]:
    for name in EGRESS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    bundle, cert_file, key_file = make_tls_files(tmp_path)
    upstream = urlsplit(scenario.sandbox.url)
    front = TlsFront((upstream.hostname or "127.0.0.1", upstream.port or 80), cert_file, key_file)
    proxy = ConnectProxy()
    try:
        yield Egress(f"https://localhost:{front.port}", proxy, bundle)
    finally:
        front.close()
        proxy.close()


def _create_session(scenario: Scenario, endpoint: str) -> awsra.Credentials:
    leaf = scenario.leaf("alice")
    return awsra.create_session(
        certificate=leaf.pem,
        private_key=leaf.key_pem,
        trust_anchor_arn=scenario.anchor_arn,
        profile_arn=scenario.profile_arn,
        role_arn=scenario.role_arn,
        endpoint_url=endpoint,
        max_attempts=1,
        timeout=10,
    )


def test_create_session_and_signin_token_go_through_the_proxy_trusting_the_ca_bundle(
    scenario: Scenario, egress: Egress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{egress.proxy.port}")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(egress.ca_bundle))
    monkeypatch.setenv("ROLEGATE_AWS_SIGNIN_URL", egress.endpoint)

    credentials = _create_session(scenario, egress.endpoint)
    assert credentials.access_key_id.startswith("ASIA")
    host_port = egress.endpoint.removeprefix("https://")
    assert egress.proxy.tunnels == [host_port]

    token = federation.get_signin_token(credentials, partition="aws", max_attempts=1)
    assert token
    # The console sign-in token request took the same way.
    assert egress.proxy.tunnels == [host_port, host_port]


def test_the_lower_case_proxy_variable_without_a_scheme_works_too(
    scenario: Scenario, egress: Egress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("https_proxy", f"127.0.0.1:{egress.proxy.port}")  # no scheme, as curl allows
    monkeypatch.setenv("AWS_CA_BUNDLE", str(egress.ca_bundle))
    assert _create_session(scenario, egress.endpoint).access_key_id
    assert egress.proxy.tunnels == [egress.endpoint.removeprefix("https://")]


def test_no_proxy_hosts_are_reached_directly(
    scenario: Scenario, egress: Egress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{egress.proxy.port}")
    monkeypatch.setenv("NO_PROXY", "example.com,localhost")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(egress.ca_bundle))
    credentials = _create_session(scenario, egress.endpoint)
    assert credentials.access_key_id
    assert egress.proxy.tunnels == []


def test_without_the_ca_bundle_the_private_certificate_is_refused(
    scenario: Scenario, egress: Egress, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{egress.proxy.port}")
    with pytest.raises(AwsError) as refused:
        _create_session(scenario, egress.endpoint)
    assert refused.value.code == "TLSError"
    assert "certificate verify failed" in refused.value.message
    assert len(egress.proxy.tunnels) == 1  # it went through the proxy, then TLS said no


def test_a_dead_proxy_is_named_in_the_error(
    scenario: Scenario, egress: Egress, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = ConnectProxy()
    dead.close()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead.port}")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(egress.ca_bundle))
    with pytest.raises(ServerError) as failed:
        _create_session(scenario, egress.endpoint)
    assert failed.value.code == "ProxyError"


def test_an_unreadable_ca_bundle_is_a_clear_error(
    scenario: Scenario, egress: Egress, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match=r"AWS_CA_BUNDLE names .*missing\.pem"):
        _create_session(scenario, egress.endpoint)
