"""The role editor's usability fixes (issue 24): request and review fields, human field names in
errors, the glob-in-allow message, the starter YAML, and out-of-band errors only for fields the
page shows."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from apps.access import services
from apps.access.models import Role

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ARN = "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"
BASE = {"mode": "form", "name": "team-dev", "allow_labels": "env: dev", "allow_arns": ARN}


def test_request_and_review_fields_round_trip(staff_client: Any) -> None:
    form = {
        **BASE,
        "request_roles": "team-admin\nteam-ops-*",
        "request_max_duration": "4h",
        "request_reason_required": "on",
        "request_approvals": "2",
        "review_roles": "team-*",
    }
    response = staff_client.post("/manage/roles/-/new/", form)
    assert response.status_code == 302, response.content.decode()
    spec = Role.objects.get(name="team-dev").spec
    assert spec["allow"]["request"] == {
        "roles": ["team-admin", "team-ops-*"],
        "max_duration": "4h",
        "reason": {"mode": "required"},
        "thresholds": [{"approve": 2, "deny": 1}],
    }
    assert spec["allow"]["review_requests"] == {"roles": ["team-*"]}
    page = staff_client.get("/manage/roles/team-dev/").content.decode()
    assert "team-ops-*</textarea>" in page and 'value="4h"' in page
    # Clearing the fields in the editor clears the settings.
    edit = {**BASE, "revision": "1", "request_roles": "", "review_roles": ""}
    assert staff_client.post("/manage/roles/team-dev/", edit).status_code == 302
    spec = Role.objects.get(name="team-dev").spec
    assert "request" not in spec["allow"] and "review_requests" not in spec["allow"]


def test_errors_use_field_names_people_see(staff_client: Any) -> None:
    response = staff_client.post(
        "/manage/roles/-/new/", {**BASE, "max_session_ttl": "20h", "request_roles": "x"}
    )
    text = response.content.decode()
    assert response.status_code == 400
    assert "spec.options" not in text and "spec.allow" not in text
    yaml_doc = yaml.safe_dump(
        {"kind": "role", "metadata": {"name": "y"}, "spec": {"options": {"max_session_ttl": "20h"}}}
    )
    response = staff_client.post("/manage/roles/-/new/", {"mode": "yaml", "document": yaml_doc})
    text = response.content.decode()
    assert response.status_code == 400
    assert "Max session TTL:" in text and "spec.options.max_session_ttl" not in text


def test_a_glob_in_an_allow_arn_is_explained(staff_client: Any) -> None:
    response = staff_client.post(
        "/manage/roles/-/new/", {**BASE, "allow_arns": "arn:aws:iam::123456789012:role/Dev*"}
    )
    assert response.status_code == 400
    assert "globs and regular expressions are only allowed in deny rules" in (
        response.content.decode()
    )
    # The same glob in a deny rule is fine.
    ok = {**BASE, "deny_labels": "'*': '*'", "deny_arns": "arn:aws:iam::123456789012:role/*Admin*"}
    assert staff_client.post("/manage/roles/-/new/", ok).status_code == 302


def test_yaml_tab_of_a_new_role_has_a_starter_document(staff_client: Any) -> None:
    page = staff_client.get("/manage/roles/-/new/?mode=yaml").content.decode()
    document = re.search(r"<textarea[^>]*name=\"document\"[^>]*>(.*?)</textarea>", page, re.S)
    assert document is not None
    parsed = yaml.safe_load(document.group(1).replace("&#x27;", "'").replace("&quot;", '"'))
    assert parsed["kind"] == "role" and parsed["spec"]["allow"]["aws_role_arns"]


def test_out_of_band_errors_only_target_fields_on_the_page(staff_client: Any) -> None:
    services.role_create(actor=None, name="r", spec={"allow": {"app_labels": {"env": "dev"}}})
    yaml_mode = staff_client.post(
        "/manage/roles/-/validate/", {"mode": "yaml", "document": "kind: role"}, **HTMX
    ).content.decode()
    oob = set(re.findall(r'id="(errors-[a-z_]+)" hx-swap-oob', yaml_mode))
    assert oob == {"errors-document"}
    form_mode = staff_client.post(
        "/manage/roles/-/validate/", {**BASE, "role": "r"}, **HTMX
    ).content.decode()
    oob = set(re.findall(r'id="(errors-[a-z_]+)" hx-swap-oob', form_mode))
    assert "errors-document" not in oob and "errors-name" not in oob and "errors-mode" not in oob
    assert {"errors-allow_arns", "errors-request_roles", "errors-review_roles"} <= oob
