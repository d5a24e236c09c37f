"""`rolegate aws credentials` as a real process: cache, lock, refusals, exit codes."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cli.conftest import (
    APP,
    ROLE_ARN,
    ROLEGATE,
    StubApi,
    credentials_body,
    rolegate,
    write_login,
)

CREDENTIALS = ["aws", "credentials", "--app", APP, "--aws-role", ROLE_ARN]


def _cache_files(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["ROLEGATE_HOME"]) / "cache").glob("*.json"))


def test_first_call_fetches_and_the_second_is_served_from_the_cache(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    first = rolegate(CREDENTIALS, cli_env)
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert document["Version"] == 1 and document["AccessKeyId"] == "ASIASTUB1"
    assert stub_api.credentials_requests() == 1
    assert stub_api.requests == [("POST", f"/api/v1/apps/{APP}/credentials")]

    second = rolegate(CREDENTIALS, cli_env)
    assert second.returncode == 0 and json.loads(second.stdout) == document
    assert len(stub_api.requests) == 1  # no HTTP request at all on a hit
    assert first.stderr == second.stderr == ""

    home = Path(cli_env["ROLEGATE_HOME"])
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in [home / "login.json", *_cache_files(cli_env)]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_each_role_app_and_user_has_its_own_entry(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    other_role = ROLE_ARN.replace("ExampleReadOnlyAccess", "Other")
    for args in (CREDENTIALS, ["aws", "credentials", "--app", APP, "--aws-role", other_role]):
        assert rolegate(args, cli_env).returncode == 0
    write_login(cli_env, stub_api.url, user="bob")
    assert rolegate(CREDENTIALS, cli_env).returncode == 0
    assert stub_api.credentials_requests() == 3
    assert len(_cache_files(cli_env)) == 3


def test_credentials_close_to_expiry_are_refreshed(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    stub_api.body = credentials_body(dt.timedelta(minutes=4))  # inside the 5-minute margin
    assert rolegate(CREDENTIALS, cli_env).returncode == 0
    stub_api.body = credentials_body(dt.timedelta(minutes=6))
    assert rolegate(CREDENTIALS, cli_env).returncode == 0
    assert rolegate(CREDENTIALS, cli_env).returncode == 0
    assert stub_api.credentials_requests() == 2


@pytest.mark.parametrize(
    "garbage",
    [b"", b"{not json", b"[]", b'{"key": 1}', b"\xff\xfe", b'{"credentials": {"Version": 1}}'],
)
def test_a_corrupted_cache_file_is_ignored_and_rewritten(
    stub_api: StubApi, cli_env: dict[str, str], garbage: bytes
) -> None:
    write_login(cli_env, stub_api.url)
    assert rolegate(CREDENTIALS, cli_env).returncode == 0
    (path,) = _cache_files(cli_env)
    path.write_bytes(garbage)
    result = rolegate(CREDENTIALS, cli_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"] == "ASIASTUB2"
    assert json.loads(path.read_text())["credentials"]["AccessKeyId"] == "ASIASTUB2"
    assert stub_api.credentials_requests() == 2


def test_ten_parallel_calls_cause_one_issuance(stub_api: StubApi, cli_env: dict[str, str]) -> None:
    write_login(cli_env, stub_api.url)
    stub_api.delay = 0.5  # the first fetch is still running when the others start
    start = threading.Barrier(10)

    def call(_: int) -> subprocess.CompletedProcess[str]:
        start.wait()
        return rolegate(CREDENTIALS, cli_env)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    assert [r.returncode for r in results] == [0] * 10, [r.stderr for r in results]
    keys = {json.loads(r.stdout)["AccessKeyId"] for r in results}
    assert keys == {"ASIASTUB1"}
    assert stub_api.credentials_requests() == 1


def test_expired_login_fails_fast_without_prompting(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url, expires_in=dt.timedelta(seconds=-1))
    # stdin stays open and empty: a prompt would hang until the timeout.
    process = subprocess.Popen(
        [ROLEGATE, *CREDENTIALS],
        env=cli_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 3
    assert stdout == ""
    assert stderr.count("\n") == 1 and "run rolegate login" in stderr
    assert stub_api.requests == []


def test_missing_or_unreadable_login(stub_api: StubApi, cli_env: dict[str, str]) -> None:
    result = rolegate(CREDENTIALS, cli_env)
    assert result.returncode == 3
    assert result.stderr == "rolegate: not logged in; run rolegate login\n"
    write_login(cli_env, stub_api.url)
    (Path(cli_env["ROLEGATE_HOME"]) / "login.json").write_text("{oops")
    result = rolegate(CREDENTIALS, cli_env)
    assert result.returncode == 3 and "unreadable; run rolegate login" in result.stderr


@pytest.mark.parametrize(
    ("status", "body", "exit_code", "fragment"),
    [
        (401, {"detail": "x", "code": "not_authenticated"}, 3, "expired or was revoked"),
        (
            403,
            {"detail": "You are not allowed to assume it.", "code": "access_denied"},
            6,
            "You are not allowed to assume it.",
        ),
        (404, {"detail": "App 'x' was not found.", "code": "app_not_found"}, 7, "was not found"),
        (
            502,
            {"detail": "AWS refused the request (AccessDeniedException): no", "code": "aws_error"},
            8,
            "AccessDeniedException",
        ),
        (503, {"detail": "cannot record", "code": "audit_unavailable"}, 9, "cannot record"),
        # AWS busy is 503 aws_unavailable (issue 19; 502 before): still the AWS exit code.
        (503, {"detail": "AWS was busy (Throttling)", "code": "aws_unavailable"}, 8, "busy"),
        (422, {"detail": "CA cannot sign", "code": "issuance_refused"}, 6, "CA cannot sign"),
        (422, {"detail": "bad duration", "code": "invalid_request"}, 2, "bad duration"),
        # A code answered with another status than its own counts for nothing.
        (500, {"detail": "odd", "code": "app_not_found"}, 9, "proxy failed (HTTP 500): odd"),
        (503, {"detail": "odd", "code": "aws_error"}, 9, "proxy failed (HTTP 503): odd"),
        (500, {"detail": "boom"}, 9, "the Rolegate proxy failed (HTTP 500): boom"),
        (500, b"<html>oops</html>", 9, "with something that is not the Rolegate API"),
        (404, b"<html>not here</html>", 9, "not the Rolegate API (check --proxy)"),
        (404, {"detail": "Not Found"}, 9, "has no Rolegate API (check --proxy)"),
        (200, {"Version": 2}, 9, "unusable credentials"),
    ],
)
def test_server_answers_become_one_line_and_an_exit_code(
    stub_api: StubApi,
    cli_env: dict[str, str],
    status: int,
    body: Any,
    exit_code: int,
    fragment: str,
) -> None:
    write_login(cli_env, stub_api.url)
    stub_api.status = status
    stub_api.body = body
    result = rolegate(CREDENTIALS, cli_env)
    assert result.returncode == exit_code, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and fragment in result.stderr
    assert "stub-secret" not in result.stderr
    assert _cache_files(cli_env) == []


def test_unreachable_proxy(cli_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_login(cli_env, f"http://127.0.0.1:{port}")
    result = rolegate(CREDENTIALS, cli_env)
    assert result.returncode == 4
    assert result.stderr == f"rolegate: cannot reach the Rolegate proxy 127.0.0.1:{port}\n"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not-trusted.example")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_failure_is_its_own_exit_code(
    stub_api: StubApi, cli_env: dict[str, str], tmp_path: Path
) -> None:
    import ssl
    from http.server import ThreadingHTTPServer

    from tests.cli.conftest import _handler

    cert_path, key_path = _self_signed(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub_api))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        write_login(cli_env, f"https://127.0.0.1:{server.server_address[1]}")
        result = rolegate(CREDENTIALS, cli_env)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("rolegate: TLS failure talking to 127.0.0.1:")
    assert result.stderr.count("\n") == 1
    assert stub_api.credentials_requests() == 0


def test_aws_env_prints_export_lines(stub_api: StubApi, cli_env: dict[str, str]) -> None:
    write_login(cli_env, stub_api.url)
    result = rolegate(["aws", "env", "--app", APP, "--aws-role", ROLE_ARN], cli_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "export AWS_ACCESS_KEY_ID=ASIASTUB1"
    assert lines[1] == "export AWS_SECRET_ACCESS_KEY=stub-secret"
    assert lines[2] == "export AWS_SESSION_TOKEN=stub-session-token"
    assert lines[3].startswith("export AWS_CREDENTIAL_EXPIRATION=")
    # It shares the cache with credential_process.
    assert rolegate(CREDENTIALS, cli_env).returncode == 0
    assert stub_api.credentials_requests() == 1


def test_usage_errors_and_version(cli_env: dict[str, str]) -> None:
    version = rolegate(["--version"], cli_env)
    assert version.returncode == 0 and version.stdout.startswith("rolegate ")
    for args in (["aws", "credentials"], ["nope"], ["apps"], []):
        result = rolegate(args, cli_env)
        assert result.returncode == 2, args
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("rolegate: error:")


def test_the_credential_path_imports_neither_django_nor_boto3(
    stub_api: StubApi, cli_env: dict[str, str]
) -> None:
    write_login(cli_env, stub_api.url)
    probe = (
        "import sys, runpy; sys.argv = ['rolegate', *sys.argv[1:]];\n"
        "from rolegate.__main__ import main; code = main();\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('django', 'boto3', 'botocore', 'cryptography', 'urllib3', 'awsra'));\n"
        "print('IMPORTED', bad, file=sys.stderr); sys.exit(code)"
    )
    python = str(Path(ROLEGATE).parent / "python")
    miss = subprocess.run(
        [python, "-c", probe, *CREDENTIALS],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
        cwd=os.getcwd(),
    )
    assert miss.returncode == 0, miss.stderr
    assert "django" not in miss.stderr and "boto3" not in miss.stderr
    hit = subprocess.run(
        [python, "-c", probe, *CREDENTIALS],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
    )
    # On a hit nothing beyond the standard library is loaded.
    assert hit.returncode == 0 and "IMPORTED []" in hit.stderr
