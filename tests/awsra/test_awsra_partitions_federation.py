"""Partitions, console destinations, and the console federation flow against a local peer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from awsra.credentials import Credentials
from awsra.errors import AccessDeniedError, ValidationError
from awsra.federation import get_signin_token, login_url, signin_token_url
from awsra.partitions import (
    console_destination,
    federation_endpoint,
    get_partition,
    partition_for_region,
)
from tests.awsra.awsra_support import LocalServer, Recorded

CREDS = Credentials(
    access_key_id="ASIAEXAMPLE",
    secret_access_key="secret/with+chars",
    session_token="token=value&more",
    expiration=datetime(2030, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("region", "name", "endpoint"),
    [
        ("us-east-1", "aws", "https://rolesanywhere.us-east-1.amazonaws.com"),
        ("ap-southeast-2", "aws", "https://rolesanywhere.ap-southeast-2.amazonaws.com"),
        ("us-gov-west-1", "aws-us-gov", "https://rolesanywhere.us-gov-west-1.amazonaws.com"),
        ("cn-northwest-1", "aws-cn", "https://rolesanywhere.cn-northwest-1.amazonaws.com.cn"),
    ],
)
def test_partition_for_region(region, name, endpoint):
    partition = partition_for_region(region)
    assert partition.name == name
    assert partition.rolesanywhere_endpoint(region) == endpoint


@pytest.mark.parametrize("region", ["", "useast1", "US-EAST-1", "us-east-1\n", "us-iso-east-1"])
def test_bad_regions_are_refused(region):
    with pytest.raises(ValueError, match="region"):
        partition_for_region(region)


def test_region_outside_partition_is_refused():
    with pytest.raises(ValueError, match="not in partition"):
        get_partition("aws").rolesanywhere_endpoint("cn-north-1")


@pytest.mark.parametrize(
    ("partition", "signin"),
    [
        ("aws", "https://signin.aws.amazon.com/federation"),
        ("aws-us-gov", "https://signin.amazonaws-us-gov.com/federation"),
        ("aws-cn", "https://signin.amazonaws.cn/federation"),
    ],
)
def test_federation_endpoint_per_partition_and_override(partition, signin):
    assert federation_endpoint(partition, {}) == signin
    assert get_partition(partition).signin_url == signin
    env = {"ROLEGATE_AWS_SIGNIN_URL": "http://127.0.0.1:4566"}
    assert federation_endpoint(partition, env) == "http://127.0.0.1:4566/federation"
    env = {"ROLEGATE_AWS_SIGNIN_URL": "http://127.0.0.1:4566/custom/federation"}
    assert federation_endpoint(partition, env) == "http://127.0.0.1:4566/custom/federation"


@pytest.mark.parametrize("value", ["javascript:alert(1)", "127.0.0.1:4566", "http://x/?a=b"])
def test_bad_signin_override_is_refused(value):
    with pytest.raises(ValueError, match="ROLEGATE_AWS_SIGNIN_URL"):
        federation_endpoint("aws", {"ROLEGATE_AWS_SIGNIN_URL": value})


def test_unknown_partition_is_refused():
    with pytest.raises(ValueError, match="unknown AWS partition"):
        federation_endpoint("aws-iso", {})


@pytest.mark.parametrize(
    ("partition", "region", "path", "expected"),
    [
        ("aws", None, None, "https://console.aws.amazon.com/"),
        (
            "aws",
            "eu-west-1",
            None,
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1",
        ),
        (
            "aws",
            "eu-west-1",
            "/s3/buckets?x=1#frag",
            "https://eu-west-1.console.aws.amazon.com/s3/buckets?x=1&region=eu-west-1#frag",
        ),
        ("aws", None, "/ec2/home", "https://console.aws.amazon.com/ec2/home"),
        ("aws-us-gov", None, None, "https://console.amazonaws-us-gov.com/"),
        (
            "aws-us-gov",
            "us-gov-west-1",
            None,
            "https://console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
        ),
        ("aws-cn", None, None, "https://console.amazonaws.cn/"),
        (
            "aws-cn",
            "cn-north-1",
            "/iam/home",
            "https://console.amazonaws.cn/iam/home?region=cn-north-1",
        ),
    ],
)
def test_console_destination(partition, region, path, expected):
    assert console_destination(partition, region, path) == expected


@pytest.mark.parametrize(
    "path",
    ["", "s3", "//evil.example/", "/\\evil", "https://evil.example/", "/a b", "/x\n", "/é"],
)
def test_console_destination_refuses_paths_that_could_leave_the_console(path):
    with pytest.raises(ValueError, match="console path"):
        console_destination("aws", None, path)


def test_console_destination_refuses_region_from_another_partition():
    with pytest.raises(ValueError, match="not in partition"):
        console_destination("aws", "cn-north-1")


def test_signin_token_url_shape():
    url = signin_token_url(CREDS, partition="aws-cn", session_duration=3600, environ={})
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://signin.amazonaws.cn/federation"
    )
    query = parse_qs(parts.query)
    assert query["Action"] == ["getSigninToken"]
    assert query["SessionDuration"] == ["3600"]
    assert json.loads(query["Session"][0]) == {
        "sessionId": "ASIAEXAMPLE",
        "sessionKey": "secret/with+chars",
        "sessionToken": "token=value&more",
    }
    with pytest.raises(ValueError, match="session_duration"):
        signin_token_url(CREDS, session_duration=60, environ={})


@pytest.mark.parametrize(
    ("partition", "base"),
    [
        ("aws", "https://signin.aws.amazon.com/federation"),
        ("aws-us-gov", "https://signin.amazonaws-us-gov.com/federation"),
        ("aws-cn", "https://signin.amazonaws.cn/federation"),
    ],
)
def test_login_url_shape_per_partition(partition, base):
    destination = console_destination(partition)
    url = login_url(
        signin_token="tok/en+=",
        destination=destination,
        issuer="https://rolegate.example/resources",
        partition=partition,
        environ={},
    )
    assert url.startswith(base + "?Action=login&")
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "Action": ["login"],
        "Issuer": ["https://rolegate.example/resources"],
        "Destination": [destination],
        "SigninToken": ["tok/en+="],
    }


@pytest.mark.parametrize("destination", ["javascript:alert(1)", "/relative", "https://x/\n"])
def test_login_url_refuses_bad_destinations(destination):
    with pytest.raises(ValueError, match="destination"):
        login_url(signin_token="t", destination=destination, issuer="https://i/", environ={})


def _token_server(refuse_duration: bool):
    def answer(request: Recorded):
        query = parse_qs(request.query)
        session = json.loads(query["Session"][0])
        if session["sessionId"] != "ASIAEXAMPLE":
            return 400, {}, b"Invalid Credentials Parameter"
        if refuse_duration and "SessionDuration" in query:
            return 400, {}, b"Invalid Credentials Parameter"
        return 200, {"Content-Type": "application/json"}, b'{"SigninToken": "tok-123"}'

    return LocalServer(answer)


def test_get_signin_token_with_duration():
    with _token_server(refuse_duration=False) as server:
        token = get_signin_token(
            CREDS, session_duration=7200, environ={"ROLEGATE_AWS_SIGNIN_URL": server.url}
        )
    assert token == "tok-123"
    (request,) = server.requests
    assert request.method == "GET" and request.path == "/federation"
    assert parse_qs(request.query)["SessionDuration"] == ["7200"]


def test_get_signin_token_retries_without_duration_on_400():
    with _token_server(refuse_duration=True) as server:
        token = get_signin_token(
            CREDS, session_duration=7200, signin_url=server.url + "/federation"
        )
    assert token == "tok-123"
    assert ["SessionDuration" in parse_qs(r.query) for r in server.requests] == [True, False]


def test_get_signin_token_400_without_duration_is_a_validation_error():
    bad = Credentials("ASIAOTHER", "s", "t", datetime(2030, 1, 1, tzinfo=UTC))
    with _token_server(refuse_duration=False) as server, pytest.raises(ValidationError) as caught:
        get_signin_token(bad, signin_url=server.url + "/federation")
    assert "Invalid Credentials Parameter" in caught.value.message
    assert len(server.requests) == 1


def test_get_signin_token_403_is_not_retried_without_duration():
    with (
        LocalServer(lambda r: (403, {}, b"Forbidden")) as server,
        pytest.raises(AccessDeniedError),
    ):
        get_signin_token(CREDS, session_duration=3600, signin_url=server.url + "/federation")
    assert len(server.requests) == 1


def test_get_signin_token_retries_transient_failures():
    answers: Iterator[tuple[int, dict[str, str], bytes]] = iter(
        [(503, {}, b"busy"), (200, {}, b'{"SigninToken": "tok-9"}')]
    )
    sleeps: list[float] = []
    with LocalServer(lambda r: next(answers)) as server:
        token = get_signin_token(CREDS, signin_url=server.url + "/federation", sleep=sleeps.append)
    assert token == "tok-9"
    assert len(sleeps) == 1
