"""Fault injection: throttling, injected 5xx, timeouts, truncated pages, the admin endpoint."""

from __future__ import annotations

import json

import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from sandbox import Sandbox, create_profile
from sandbox.moto_backend import AccessKey
from tests.sandbox.sandbox_helpers import Scenario, client


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_throttling_returns_throttling_exception_429(
    sandbox: Sandbox, sandbox_operator: AccessKey
) -> None:
    ra = client("rolesanywhere", sandbox, sandbox_operator)
    sandbox.faults.throttle("ListProfiles", rate_per_second=0.001)
    ra.list_profiles()
    with pytest.raises(ClientError) as raised:
        ra.list_profiles()
    assert _error(raised) == ("ThrottlingException", 429)
    # Other operations are not throttled by a rule for ListProfiles.
    ra.list_trust_anchors()


def test_aws_default_quotas_throttle_per_family(
    sandbox: Sandbox, sandbox_operator: AccessKey
) -> None:
    ra = client("rolesanywhere", sandbox, sandbox_operator)
    sandbox.faults.throttle_aws_defaults()
    ra.list_profiles()
    with pytest.raises(ClientError) as raised:
        ra.list_profiles()  # same family (profiles), same second
    assert _error(raised) == ("ThrottlingException", 429)
    ra.list_trust_anchors()  # another family has its own budget
    client("iam", sandbox, sandbox_operator).list_roles()  # IAM is not throttled


def test_botocore_retries_through_throttling(sandbox: Sandbox, sandbox_operator: AccessKey) -> None:
    sandbox.faults.fail("ListProfiles", status=503, count=2)
    retrying = Config(retries={"total_max_attempts": 4, "mode": "standard"})
    ra = client("rolesanywhere", sandbox, sandbox_operator, config=retrying)
    assert ra.list_profiles()["profiles"] == []
    assert sandbox.faults.describe()["failures"] == []


def test_injected_500_then_recovery(sandbox: Sandbox, sandbox_operator: AccessKey) -> None:
    ra = client("rolesanywhere", sandbox, sandbox_operator)
    sandbox.faults.fail("profiles", status=500, count=1)
    with pytest.raises(ClientError) as raised:
        ra.list_profiles()
    assert _error(raised) == ("InternalServerException", 500)
    assert ra.list_profiles()["profiles"] == []


def test_injected_failures_on_moto_services(sandbox: Sandbox, sandbox_operator: AccessKey) -> None:
    iam = client("iam", sandbox, sandbox_operator)
    sandbox.faults.fail("iam:ListRoles", status=503, count=1)
    with pytest.raises(ClientError) as raised:
        iam.list_roles()
    assert _error(raised) == ("ServiceUnavailable", 503)
    iam.list_roles()
    sandbox.faults.throttle("sts", rate_per_second=0.001)
    sts = client("sts", sandbox, sandbox_operator)
    sts.get_caller_identity()
    with pytest.raises(ClientError) as raised:
        sts.get_caller_identity()
    assert raised.value.response["Error"]["Code"] == "Throttling"


def test_create_session_faults(scenario: Scenario) -> None:
    scenario.sandbox.faults.fail("CreateSession", status=503, count=1)
    result = scenario.create_session()
    assert result.status == 503
    assert result.headers["X-Amzn-ErrorType"] == "ServiceUnavailableException"
    assert scenario.create_session().status == 201


def test_truncated_pages_force_pagination(sandbox: Sandbox, sandbox_operator: AccessKey) -> None:
    for index in range(3):
        create_profile(sandbox, f"p{index}", [])
    ra = client("rolesanywhere", sandbox, sandbox_operator)
    sandbox.faults.truncate_pages("ListProfiles", page_size=1)
    first = ra.list_profiles(pageSize=50)
    assert len(first["profiles"]) == 1
    assert first["nextToken"]
    pages = list(ra.get_paginator("list_profiles").paginate())
    assert [p["name"] for page in pages for p in page["profiles"]] == ["p0", "p1", "p2"]
    assert len(pages) == 3


def test_timeout_holds_the_request_until_cleared(
    sandbox: Sandbox, sandbox_operator: AccessKey
) -> None:
    impatient = Config(read_timeout=0.5, connect_timeout=2, retries={"total_max_attempts": 1})
    ra = client("rolesanywhere", sandbox, sandbox_operator, config=impatient)
    sandbox.faults.timeout("ListProfiles", count=1, seconds=5)
    with pytest.raises(ReadTimeoutError):
        ra.list_profiles()
    sandbox.faults.clear()  # releases the parked request at once
    assert ra.list_profiles()["profiles"] == []


def test_admin_endpoint_configures_faults(sandbox: Sandbox, sandbox_operator: AccessKey) -> None:
    url = f"{sandbox.url}/_sandbox/faults"
    rule = {"type": "fail", "operation": "ListTrustAnchors", "status": 502, "count": 1}
    answer = urllib3.request("POST", url, body=json.dumps(rule), retries=False)
    assert answer.status == 200
    assert json.loads(answer.data)["failures"][0]["operation"] == "ListTrustAnchors"
    ra = client("rolesanywhere", sandbox, sandbox_operator)
    with pytest.raises(ClientError) as raised:
        ra.list_trust_anchors()
    assert _error(raised)[1] == 502

    bad = urllib3.request("POST", url, body=json.dumps({"type": "explode"}), retries=False)
    assert bad.status == 400
    urllib3.request(
        "POST",
        url,
        body=json.dumps({"type": "throttle", "operation": "tags", "rate_per_second": 2}),
    )
    assert json.loads(urllib3.request("GET", url).data)["throttles"] == {"tags": 2.0}
    assert json.loads(urllib3.request("DELETE", url).data)["throttles"] == {}

    clock = urllib3.request(
        "POST", f"{sandbox.url}/_sandbox/clock", body=json.dumps({"offset_seconds": 120})
    )
    assert json.loads(clock.data)["offset_seconds"] == 120
    assert sandbox.clock_offset.total_seconds() == 120
