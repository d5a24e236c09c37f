"""The whole profile sync behind a proxy-only egress: CreateSession (awsra) and the listings
(boto3) both go through HTTPS_PROXY and trust AWS_CA_BUNDLE; nothing connects directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from apps.integrations.services import integration_sync
from tests.integrations.conftest import Account
from tests.sandbox.egress_support import ConnectProxy, TlsFront, make_tls_files

pytestmark = pytest.mark.django_db


def test_the_sync_reaches_aws_only_through_the_proxy(
    account: Account, create_integration: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account.add_profile("ExampleReadOnlyAccess", tags={"env": "prod"})
    create_integration(account.integration_yaml())
    bundle, cert_file, key_file = make_tls_files(tmp_path)
    upstream = urlsplit(account.sandbox.url)
    front = TlsFront((upstream.hostname or "127.0.0.1", upstream.port or 80), cert_file, key_file)
    proxy = ConnectProxy()
    try:
        for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"https://localhost:{front.port}")
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))

        outcome = integration_sync(name="aws-prod")

        assert outcome.status == "SUCCESS", outcome.error_message
        assert outcome.apps_created == 1
        # awsra's pool (CreateSession) and boto3's (the listings) each opened a tunnel ...
        assert len(proxy.tunnels) >= 2, proxy.tunnels
        assert set(proxy.tunnels) == {f"localhost:{front.port}"}
        # ... and every connection AWS (the TLS front) accepted came through the proxy.
        assert front.accepted == len(proxy.tunnels)
    finally:
        front.close()
        proxy.close()
