"""SSO settings from the environment: derived flag, required pairs, production rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({k: getattr(s, k) for k in dir(s) if k.startswith('ROLEGATE_OIDC')}))"
)


def load(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "ROLEGATE_ENV": "test",
        "ROLEGATE_VAR_DIR": str(tmp_path),
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_sso_is_off_without_an_issuer(tmp_path: Path) -> None:
    result = load(tmp_path)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["ROLEGATE_OIDC_ENABLED"] is False
    assert values["ROLEGATE_OIDC_CLOCK_SKEW"] == 60
    assert values["ROLEGATE_OIDC_SCOPES"] == ["openid", "email", "profile"]


def test_settings_are_parsed(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        ROLEGATE_OIDC_ISSUER="https://idp.example.com/",
        ROLEGATE_OIDC_CLIENT_ID="rolegate",
        ROLEGATE_OIDC_SCOPES="openid email groups",
        ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS="example.com, corp.example",
        ROLEGATE_OIDC_CLAIMS_ALLOWLIST="aws_role_arns,groups",
        ROLEGATE_OIDC_CLOCK_SKEW="5",
        ROLEGATE_OIDC_USERNAME_CLAIM="email",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["ROLEGATE_OIDC_ENABLED"] is True
    assert values["ROLEGATE_OIDC_ISSUER"] == "https://idp.example.com"
    assert values["ROLEGATE_OIDC_SCOPES"] == ["openid", "email", "groups"]
    assert values["ROLEGATE_OIDC_ALLOWED_EMAIL_DOMAINS"] == ["example.com", "corp.example"]
    assert values["ROLEGATE_OIDC_CLAIMS_ALLOWLIST"] == ["aws_role_arns", "groups"]
    assert values["ROLEGATE_OIDC_CLOCK_SKEW"] == 5
    assert values["ROLEGATE_OIDC_USERNAME_CLAIM"] == "email"


def test_bad_values_name_the_variable(tmp_path: Path) -> None:
    issuer = {"ROLEGATE_OIDC_ISSUER": "https://idp.example.com"}
    cases = [
        ({**issuer}, "ROLEGATE_OIDC_CLIENT_ID is required"),
        ({**issuer, "ROLEGATE_OIDC_CLIENT_ID": "c", "ROLEGATE_OIDC_SCOPES": "email"}, "openid"),
        ({"ROLEGATE_OIDC_ISSUER": "idp.example.com", "ROLEGATE_OIDC_CLIENT_ID": "c"}, "http(s)"),
        ({**issuer, "ROLEGATE_OIDC_CLIENT_ID": "c", "ROLEGATE_OIDC_CLOCK_SKEW": "9999"}, "600"),
    ]
    for environ, message in cases:
        result = load(tmp_path, **environ)
        assert result.returncode != 0, environ
        assert "ImproperlyConfigured" in result.stderr and message in result.stderr, result.stderr
