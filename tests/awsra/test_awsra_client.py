"""create_session against a real local HTTP peer: the server verifies each request with awsra's
verifier and answers like Roles Anywhere (success, AWS error bodies, stalls)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

import awsra
from awsra.client import parse_create_session_response, resolve_endpoint
from awsra.errors import AwsError
from awsra.http import BACKOFF_CAP_SECONDS
from awsra.verifier import verify_request
from tests.awsra.awsra_support import (
    PROFILE_ARN,
    ROLE_ARN,
    TRUST_ANCHOR_ARN,
    LocalServer,
    Recorded,
    make_pki,
)

SUCCESS = {
    "credentialSet": [
        {
            "assumedRoleUser": {
                "arn": "arn:aws:sts::123456789012:assumed-role/RAExample/alice",
                "assumedRoleId": "AROAEXAMPLE:alice",
            },
            "credentials": {
                "accessKeyId": "ASIAEXAMPLEKEY",
                "expiration": "2030-07-27T04:36:55Z",
                "secretAccessKey": "very-secret",
                "sessionToken": "token-value",
            },
            "packedPolicySize": 10,
            "roleArn": ROLE_ARN,
            "sourceIdentity": "CN=alice",
        }
    ],
    "subjectArn": "arn:aws:rolesanywhere:us-east-1:123456789012:subject/41cl0bae",
}


def _ok(_: Recorded):
    return 201, {"Content-Type": "application/json"}, json.dumps(SUCCESS).encode()


def _aws_error(status: int, code: str, message: str):
    body = json.dumps({"message": message}).encode()
    return (
        status,
        {
            "X-Amzn-ErrorType": f"{code}:http://internal.amazon.com/",
            "Content-Type": "application/json",
        },
        body,
    )


@pytest.fixture
def pki():
    return make_pki("ec")


def _call(pki, url: str, **kwargs):
    sleeps: list[float] = []
    kwargs.setdefault("sleep", sleeps.append)
    kwargs.setdefault("environ", {})
    creds = awsra.create_session(
        certificate=pki.leaf,
        private_key=pki.leaf_key,
        trust_anchor_arn=TRUST_ANCHOR_ARN,
        profile_arn=PROFILE_ARN,
        role_arn=ROLE_ARN,
        endpoint_url=url,
        **kwargs,
    )
    return creds, sleeps


def test_success_returns_credentials_and_sends_a_verifiable_request(pki):
    with LocalServer(_ok) as server:
        creds, sleeps = _call(pki, server.url, chain=[pki.intermediate], duration_seconds=900)
    assert creds.access_key_id == "ASIAEXAMPLEKEY"
    assert creds.secret_access_key == "very-secret"
    assert creds.session_token == "token-value"
    assert creds.expiration == datetime(2030, 7, 27, 4, 36, 55, tzinfo=UTC)
    assert creds.assumed_role_arn == "arn:aws:sts::123456789012:assumed-role/RAExample/alice"
    assert creds.source_identity == "CN=alice"
    assert sleeps == []
    (request,) = server.requests
    assert request.method == "POST" and request.path == "/sessions"
    assert request.headers["Host"] == server.url.removeprefix("http://")
    verified = verify_request(
        method=request.method,
        path=request.path,
        query_string=request.query,
        headers=request.headers,
        body=request.body,
    )
    assert verified.serial == pki.leaf.serial_number
    assert verified.chain == [pki.intermediate]
    assert verified.region == "us-east-1"
    assert (verified.role_arn, verified.profile_arn, verified.trust_anchor_arn) == (
        ROLE_ARN,
        PROFILE_ARN,
        TRUST_ANCHOR_ARN,
    )
    assert verified.duration_seconds == 900
    assert verified.role_session_name is None  # omitted, not null
    assert b"roleSessionName" not in request.body


def test_transient_errors_are_retried_with_capped_backoff_and_fresh_signatures(pki):
    answers = iter(
        [
            _aws_error(503, "ServiceUnavailableException", "try later"),
            (429, {"Content-Type": "application/json"}, b'{"Message": "Rate exceeded"}'),
            (500, {}, b"<html>oops</html>"),
        ]
    )
    with LocalServer(lambda r: next(answers, None) or _ok(r)) as server:
        creds, sleeps = _call(pki, server.url)
    assert creds.access_key_id == "ASIAEXAMPLEKEY"
    assert len(server.requests) == 4
    assert len(sleeps) == 3
    assert all(0 <= s <= BACKOFF_CAP_SECONDS for s in sleeps)
    for request in server.requests:
        verify_request(
            method="POST",
            path="/sessions",
            query_string="",
            headers=request.headers,
            body=request.body,
        )


def test_transient_errors_give_up_after_max_attempts(pki):
    down = _aws_error(503, "ServiceUnavailableException", "down")
    with LocalServer(lambda r: down) as server, pytest.raises(awsra.ServerError) as caught:
        _call(pki, server.url, max_attempts=3)
    assert caught.value.code == "ServiceUnavailableException"
    assert caught.value.status == 503
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("status", "code", "message", "error"),
    [
        (403, "AccessDeniedException", "Untrusted Signing Certificate", awsra.AccessDeniedError),
        (
            403,
            "AccessDeniedException",
            "Not authorized to set roleSessionName.",
            awsra.AccessDeniedError,
        ),
        (400, "ValidationException", "1 validation error detected", awsra.ValidationError),
        (404, "ResourceNotFoundException", "Profile not found", awsra.ResourceNotFoundError),
    ],
)
def test_permanent_errors_raise_typed_without_retry(pki, status, code, message, error):
    answer = _aws_error(status, code, message)
    with LocalServer(lambda r: answer) as server, pytest.raises(error) as caught:
        _call(pki, server.url)
    assert caught.value.code == code
    assert caught.value.message == message
    assert caught.value.status == status
    assert not isinstance(caught.value, awsra.TransientError)
    assert len(server.requests) == 1


def test_stalled_server_times_out_and_is_never_asked_again(pki):
    """A read timeout means the request arrived: AWS may have made the session, so a retry
    would make a second one. One request, and an error that says the answer was late."""

    def stall(_: Recorded):
        server.release.wait(5)
        return _ok(_)

    with LocalServer(stall) as server:
        with pytest.raises(awsra.AnswerTimeoutError):
            _call(pki, server.url, timeout=0.2, max_attempts=4)
        assert len(server.requests) == 1


def test_connection_refused_is_transient_and_retried(pki):
    with LocalServer(_ok) as server:
        url = server.url
    # The server is closed now: nothing listens on that port, so nothing can have happened.
    sleeps: list[float] = []
    with pytest.raises(awsra.ServerError) as caught:
        _call(pki, url, max_attempts=3, sleep=sleeps.append)
    assert caught.value.code == "ConnectionError"
    assert not isinstance(caught.value, awsra.ConnectionLostError)
    assert len(sleeps) == 2


def test_the_budget_caps_each_attempt_and_the_retries(pki):
    """Throttled once with a 0.3 s budget on a fake clock whose backoff sleep jumps past the
    budget: the retry is not sent, and the error says the budget ran out."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += 1.0

    answer = _aws_error(429, "ThrottlingException", "Rate exceeded")
    with LocalServer(lambda r: answer) as server, pytest.raises(awsra.AwsTimeoutError) as caught:
        _call(pki, server.url, max_attempts=10, budget=0.3, clock=lambda: now[0], sleep=sleep)
    assert "budget" in caught.value.message
    assert len(server.requests) == 1


def test_malformed_success_body_is_not_retried(pki):
    with (
        LocalServer(lambda r: (201, {}, b"not json")) as server,
        pytest.raises(AwsError, match="not JSON") as caught,
    ):
        _call(pki, server.url)
    assert not isinstance(caught.value, awsra.TransientError)
    assert len(server.requests) == 1


def test_endpoint_comes_from_environment_when_not_given(pki):
    with LocalServer(_ok) as specific, LocalServer(_ok) as general:
        env = {"AWS_ENDPOINT_URL_ROLESANYWHERE": specific.url, "AWS_ENDPOINT_URL": general.url}
        creds = awsra.create_session(
            certificate=pki.leaf,
            private_key=pki.leaf_key,
            trust_anchor_arn=TRUST_ANCHOR_ARN,
            profile_arn=PROFILE_ARN,
            role_arn=ROLE_ARN,
            environ=env,
        )
        assert creds.access_key_id == "ASIAEXAMPLEKEY"
        assert (len(specific.requests), len(general.requests)) == (1, 0)
        awsra.create_session(
            certificate=pki.leaf,
            private_key=pki.leaf_key,
            trust_anchor_arn=TRUST_ANCHOR_ARN,
            profile_arn=PROFILE_ARN,
            role_arn=ROLE_ARN,
            environ={"AWS_ENDPOINT_URL": general.url},
        )
        assert len(general.requests) == 1


def test_resolve_endpoint_defaults_to_the_partition():
    assert resolve_endpoint("us-east-1", "aws", environ={}) == (
        "https://rolesanywhere.us-east-1.amazonaws.com"
    )
    assert resolve_endpoint("cn-north-1", "aws-cn", environ={}) == (
        "https://rolesanywhere.cn-north-1.amazonaws.com.cn"
    )
    assert resolve_endpoint("us-gov-west-1", "aws-us-gov", environ={}) == (
        "https://rolesanywhere.us-gov-west-1.amazonaws.com"
    )
    assert resolve_endpoint("us-east-1", "aws", "http://x:1/", environ={}) == "http://x:1"
    with pytest.raises(ValueError, match="AWS_ENDPOINT_URL"):
        resolve_endpoint("us-east-1", "aws", environ={"AWS_ENDPOINT_URL": "ftp://x"})


def test_bad_input_is_refused_before_any_request(pki):
    with LocalServer(_ok) as server:
        with pytest.raises(ValueError, match="role_session_name"):
            _call(pki, server.url, role_session_name="a b")
        with pytest.raises(ValueError, match="duration_seconds"):
            _call(pki, server.url, duration_seconds=60)
        with pytest.raises(ValueError, match="trust anchor"):
            awsra.create_session(
                certificate=pki.leaf,
                private_key=pki.leaf_key,
                trust_anchor_arn="arn:nope",
                profile_arn=PROFILE_ARN,
                role_arn=ROLE_ARN,
                endpoint_url=server.url,
            )
        assert server.requests == []


def test_parse_response_never_echoes_secrets():
    broken = dict(SUCCESS["credentialSet"][0]["credentials"])  # type: ignore[index]
    del broken["expiration"]
    body = json.dumps({"credentialSet": [{"credentials": broken}]})
    with pytest.raises(AwsError) as caught:
        parse_create_session_response(body)
    assert "very-secret" not in str(caught.value)
    assert "expiration" in str(caught.value)


def test_credentials_repr_hides_secrets():
    creds = parse_create_session_response(json.dumps(SUCCESS))
    assert "very-secret" not in repr(creds) and "token-value" not in repr(creds)
    assert "ASIAEXAMPLEKEY" in repr(creds)


def test_concurrent_sessions_share_the_pool(pki):
    with LocalServer(_ok) as server:
        errors: list[BaseException] = []

        def run():
            try:
                _call(pki, server.url)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(server.requests) == 6


def test_awsra_imports_neither_django_nor_boto3():
    code = (
        "import sys, awsra, awsra.client, awsra.verifier, awsra.federation, "
        "awsra.credential_process, awsra.arn, awsra.partitions\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "bad = sorted(roots & {'django', 'boto3', 'botocore'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
