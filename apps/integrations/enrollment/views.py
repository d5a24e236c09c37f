"""The guided enrollment wizard (staff only), at /manage/integrations/enroll/.

Name → Set up AWS → Connect → Choose profiles → Done. Each step's POST is validated on the
server and stored in the session draft (`wizard.py`); the Integration row is created only by
"Enable sync", through the integrations service, which audits it and queues the first sync.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.http import AuthenticatedHtmxRequest
from apps.authority.selectors import ca_bundle_pem
from apps.core.policies import integration_admin_required
from apps.core.registry import ResourceError, ResourceExists
from apps.integrations import selectors as integration_selectors
from apps.integrations.enrollment import wizard
from apps.integrations.enrollment.cloudformation import enrollment_template_yaml
from apps.integrations.enrollment.forms import ARN_FIELDS, ConnectForm, NameForm, ProfilesForm
from apps.integrations.enrollment.policies import (
    INLINE_POLICY_NAME,
    OWNER_ORIGIN,
    OWNER_TAG_CLUSTER,
    OWNER_TAG_INTEGRATION,
    OWNER_TAG_ORIGIN,
    REVOCATION_SCOPE_NOTE,
    default_names,
    sync_role_permissions_policy,
    sync_role_trust_policy,
    target_role_trust_policy,
)
from apps.integrations.enrollment.probe import ProbeResult, probe_configuration
from apps.integrations.enrollment.script import enrollment_script
from apps.integrations.enrollment.wizard import STEP_TITLES, STEPS, WizardState
from apps.integrations.services import integration_apply
from apps.integrations.spec import make_integration_spec

TEMPLATES = "integrations/enroll/"
TRUST_ANCHOR_PLACEHOLDER = "TRUST_ANCHOR_ARN"


def _json(document: object) -> str:
    return json.dumps(document, indent=2)


def _steps(state: WizardState, current: str) -> list[dict[str, Any]]:
    """The step bar: each step with whether it is done, current, and reachable."""
    items = []
    finished = current == "done"
    for step in (*STEPS, "done"):
        reachable = not finished and step != "done" and state.may_open(step)
        items.append(
            {
                "key": step,
                "title": STEP_TITLES[step],
                "current": step == current,
                "done": finished or (step != "done" and state.completed(step)),
                "url": reverse(f"integrations:enroll:{step}") if reachable else "",
            }
        )
    return items


def _render(
    request: AuthenticatedHtmxRequest,
    step: str,
    state: WizardState,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    template: str | None = None,
) -> TemplateResponse:
    full = {
        "state": state,
        "step": step,
        "step_title": STEP_TITLES[step],
        "steps": _steps(state, step),
        **(context or {}),
    }
    return TemplateResponse(request, template or f"{TEMPLATES}{step}.html", full, status=status)


def _gate(request: AuthenticatedHtmxRequest, state: WizardState, step: str) -> HttpResponse | None:
    """Send the operator to the first unfinished step when ``step`` is not open yet."""
    if state.may_open(step):
        return None
    missing = state.current_step()
    message = f"Complete the “{STEP_TITLES[missing]}” step first."
    if request.method == "GET" and not request.htmx:
        messages.info(request, message)
        return redirect(f"integrations:enroll:{missing}")
    return TemplateResponse(
        request,
        f"{TEMPLATES}out_of_order.html",
        {"message": message, "url": reverse(f"integrations:enroll:{missing}")},
        status=409,
    )


def _action(request: AuthenticatedHtmxRequest, allowed: tuple[str, ...]) -> str | None:
    action = request.POST.get("action", allowed[0])
    return action if action in allowed else None


def _bad_action(request: AuthenticatedHtmxRequest) -> HttpResponse:
    return HttpResponse("Unknown action.", status=400, content_type="text/plain; charset=utf-8")


# -- entry, reset -----------------------------------------------------------------------------


@integration_admin_required
@require_GET
def enroll_start(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Resume an unfinished wizard at its first unfinished step, or start a new one."""
    state = wizard.load(request.session)
    return redirect(f"integrations:enroll:{state.current_step()}")


@integration_admin_required
@require_POST
def enroll_reset(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Start over: forget the draft."""
    wizard.clear(request.session)
    return redirect("integrations:enroll:name")


# -- step 1: name -----------------------------------------------------------------------------


def _name_initial(state: WizardState) -> dict[str, Any]:
    # A name still at the integration's default stays blank, so it follows a renamed integration.
    defaults = default_names(state.name)
    initial: dict[str, Any] = {"name": state.name, "session_revocation": state.session_revocation}
    for key in ("trust_anchor", "sync_role", "sync_profile"):
        value = getattr(state, key)
        initial[key] = "" if value == defaults[key] else value
    return initial


@integration_admin_required
@require_http_methods(["GET", "POST"])
def enroll_name(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Step 1: the integration name (checked live) and the AWS resource names."""
    state = wizard.load(request.session)
    if request.method == "GET":
        form = NameForm(initial=_name_initial(state))
        return _render(request, "name", state, {"form": form})
    if _action(request, ("next",)) is None:
        return _bad_action(request)
    form = NameForm(request.POST)
    if not form.is_valid():
        return _render(request, "name", state, {"form": form}, status=400)
    data = form.cleaned_data
    names = (data["name"], data["trust_anchor"], data["sync_role"], data["sync_profile"])
    revocation = bool(data.get("session_revocation"))
    if names != (state.name, state.trust_anchor, state.sync_role, state.sync_profile) or (
        revocation != state.session_revocation
    ):
        # Other names mean another script: the AWS set-up and the connection must be redone.
        state.setup_done = False
        state.connect_done = False
    state.name, state.trust_anchor, state.sync_role, state.sync_profile = names
    state.session_revocation = revocation
    state.name_done = True
    wizard.save(request.session, state)
    return redirect("integrations:enroll:setup")


@integration_admin_required
@require_POST
def enroll_name_check(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """htmx: validate the name step's fields as they are typed (nothing is stored)."""
    form = NameForm(request.POST)
    form.is_valid()
    return TemplateResponse(request, f"{TEMPLATES}name.html#feedback", {"form": form})


# -- step 2: set up AWS -----------------------------------------------------------------------


def _script(state: WizardState) -> str:
    return enrollment_script(
        names=state.names(),
        cluster=settings.ROLEGATE_CLUSTER_NAME,
        ca_bundle_pem=ca_bundle_pem(),
        session_revocation=state.session_revocation,
    )


@integration_admin_required
@require_http_methods(["GET", "POST"])
def enroll_setup(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Step 2: the script, the CloudFormation template and the manual steps, side by side."""
    state = wizard.load(request.session)
    refused = _gate(request, state, "setup")
    if refused is not None:
        return refused
    if request.method == "POST":
        action = _action(request, ("next", "back"))
        if action is None:
            return _bad_action(request)
        if action == "back":
            return redirect("integrations:enroll:name")
        state.setup_done = True
        wizard.save(request.session, state)
        return redirect("integrations:enroll:connect")
    names = state.names()
    context = {
        "script": _script(state),
        "names": names,
        "cluster": settings.ROLEGATE_CLUSTER_NAME,
        "trust_policy": _json(sync_role_trust_policy(TRUST_ANCHOR_PLACEHOLDER)),
        "permissions_policy": _json(
            sync_role_permissions_policy(session_revocation=state.session_revocation)
        ),
        "revocation_scope_note": REVOCATION_SCOPE_NOTE if state.session_revocation else "",
        "target_trust_policy": _json(target_role_trust_policy(TRUST_ANCHOR_PLACEHOLDER)),
        "inline_policy_name": INLINE_POLICY_NAME,
        "tags": [
            (OWNER_TAG_INTEGRATION, names.integration),
            (OWNER_TAG_CLUSTER, settings.ROLEGATE_CLUSTER_NAME),
            (OWNER_TAG_ORIGIN, OWNER_ORIGIN),
        ],
        "placeholder": TRUST_ANCHOR_PLACEHOLDER,
    }
    return _render(request, "setup", state, context)


def _download_refused(state: WizardState) -> HttpResponse | None:
    if state.may_open("setup"):
        return None
    return HttpResponse(
        "Choose the integration name first: /manage/integrations/enroll/name/",
        status=409,
        content_type="text/plain; charset=utf-8",
    )


@integration_admin_required
@require_GET
def enroll_script_download(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """The set-up script as a file (bash + AWS CLI only)."""
    state = wizard.load(request.session)
    refused = _download_refused(state)
    if refused is not None:
        return refused
    response = HttpResponse(_script(state), content_type="text/x-shellscript; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rolegate-enroll-{state.name}.sh"'
    return response


@integration_admin_required
@require_GET
def enroll_template_download(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """The CloudFormation template as a YAML file."""
    state = wizard.load(request.session)
    refused = _download_refused(state)
    if refused is not None:
        return refused
    text = enrollment_template_yaml(
        names=state.names(),
        cluster=settings.ROLEGATE_CLUSTER_NAME,
        ca_bundle_pem=ca_bundle_pem(),
        session_revocation=state.session_revocation,
    )
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rolegate-enroll-{state.name}.yaml"'
    return response


# -- step 3: connect --------------------------------------------------------------------------


def _connect_initial(state: WizardState) -> dict[str, str]:
    return {
        "script_output": state.script_output,
        "trust_anchor_arn": state.trust_anchor_arn,
        "profile_arn": state.profile_arn,
        "role_arn": state.role_arn,
    }


def _probe(state: WizardState) -> ProbeResult:
    result = probe_configuration(
        integration_name=state.name,
        trust_anchor_arn=state.trust_anchor_arn,
        profile_arn=state.profile_arn,
        role_arn=state.role_arn,
        session_revocation=state.session_revocation,
    )
    state.record_probe(result)
    return result


@integration_admin_required
@require_http_methods(["GET", "POST"])
def enroll_connect(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Step 3: paste the script output (or the ARNs), test the configuration, continue."""
    state = wizard.load(request.session)
    refused = _gate(request, state, "connect")
    if refused is not None:
        return refused
    if request.method == "GET":
        form = ConnectForm(initial=_connect_initial(state), integration_name=state.name)
        return _render(request, "connect", state, {"form": form, "result": state.probe_result()})
    action = _action(request, ("next", "test", "back"))
    if action is None:
        return _bad_action(request)
    form = ConnectForm(request.POST, integration_name=state.name)
    if action == "back":
        # Keep what was typed, valid or not, for when the operator comes back.
        state.script_output = request.POST.get("script_output", "")[:20_000]
        for key in ARN_FIELDS:
            setattr(state, key, request.POST.get(key, "")[:2048])
        state.connect_done = False
        wizard.save(request.session, state)
        return redirect("integrations:enroll:setup")
    if not form.is_valid():
        state.connect_done = False
        wizard.save(request.session, state)
        return _render(request, "connect", state, {"form": form, "result": None}, status=400)
    data = form.cleaned_data
    state.script_output = data.get("script_output", "")
    for key in ARN_FIELDS:
        setattr(state, key, data[key])
    result = state.probe_result()
    if action == "test" or result is None or not result.ok:
        result = _probe(state)
    state.connect_done = result.ok and action == "next"
    wizard.save(request.session, state)
    if state.connect_done:
        return redirect("integrations:enroll:profiles")
    # Show the parsed ARNs in the fields, whatever was pasted.
    form = ConnectForm(initial=_connect_initial(state), integration_name=state.name)
    status = 200 if result.ok else 400
    return _render(request, "connect", state, {"form": form, "result": result}, status=status)


# -- step 4: choose profiles ------------------------------------------------------------------


def _profiles_initial(state: WizardState) -> dict[str, str]:
    return {"mode": state.filter_mode, "filters": state.filters_text}


def _preview_context(state: WizardState, form: ProfilesForm) -> dict[str, Any]:
    rows = (
        wizard.preview(state.probe_result(), form.cleaned_data["filter_list"])
        if form.is_valid()
        else []
    )
    return {
        "form": form,
        "rows": rows,
        "synced_count": sum(1 for row in rows if row.synced),
        "result": state.probe_result(),
    }


@integration_admin_required
@require_http_methods(["GET", "POST"])
def enroll_profiles(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """Step 4: all profiles or filters, with a preview; "Enable sync" saves the integration."""
    state = wizard.load(request.session)
    refused = _gate(request, state, "profiles")
    if refused is not None:
        return refused
    if request.method == "GET":
        form = ProfilesForm(_profiles_initial(state))
        return _render(request, "profiles", state, _preview_context(state, form))
    action = _action(request, ("enable", "back", "refresh"))
    if action is None:
        return _bad_action(request)
    state.filter_mode = request.POST.get("mode", state.filter_mode)[:16]
    state.filters_text = request.POST.get("filters", state.filters_text)[:60_000]
    if action == "back":
        wizard.save(request.session, state)
        return redirect("integrations:enroll:connect")
    if action == "refresh":
        result = _probe(state)
        wizard.save(request.session, state)
        if not result.ok:
            messages.error(request, "Listing the profiles again failed; test the connection.")
            return redirect("integrations:enroll:connect")
        return redirect("integrations:enroll:profiles")
    form = ProfilesForm(request.POST)
    wizard.save(request.session, state)
    if not form.is_valid():
        return _render(request, "profiles", state, _preview_context(state, form), status=400)
    # The gate guarantees a successful test with these ARNs.
    tested = state.probe_result()
    accepts_session_name = bool(tested and tested.accepts_role_session_name)
    try:
        spec = make_integration_spec(
            name=state.name,
            trust_anchor_arn=state.trust_anchor_arn,
            sync_enabled=True,
            sync_profile_arn=state.profile_arn,
            sync_role_arn=state.role_arn,
            sync_profile_accepts_role_session_name=accepts_session_name,
            profile_name_filters=form.cleaned_data["filter_list"],
            session_revocation_enabled=state.session_revocation,
        )
        integration = integration_apply(actor=request.user, spec=spec)
    except ResourceExists:
        state.name_done = False
        wizard.save(request.session, state)
        context = _preview_context(state, form)
        context["save_error"] = (
            f"An integration named {state.name!r} was created meanwhile. Go back to the Name "
            "step and choose another name."
        )
        return _render(request, "profiles", state, context, status=409)
    except ResourceError as error:
        context = _preview_context(state, form)
        context["save_error"] = str(error)
        return _render(request, "profiles", state, context, status=400)
    wizard.clear(request.session)
    messages.success(request, f"Integration {integration.name} saved; the first sync is queued.")
    return redirect("integrations:enroll:done", name=integration.name)


@integration_admin_required
@require_POST
def enroll_preview(request: AuthenticatedHtmxRequest) -> HttpResponse:
    """htmx: which tested profiles the entered filters would sync (nothing is stored)."""
    state = wizard.load(request.session)
    refused = _gate(request, state, "profiles")
    if refused is not None:
        return refused
    form = ProfilesForm(request.POST)
    return TemplateResponse(
        request, f"{TEMPLATES}profiles.html#preview", _preview_context(state, form)
    )


# -- done -------------------------------------------------------------------------------------


def _done_context(name: str) -> dict[str, Any]:
    integration = wizard.enrolled_integration(name)
    if integration is None:
        raise Http404("No such integration.")
    return {
        "integration": integration,
        "sync": wizard.first_sync(integration),
        "health": integration_selectors.integration_health(integration),
        "status_url": reverse("admin:integrations_integration_change", args=[integration.pk]),
        "resources_url": "/",
    }


@integration_admin_required
@require_GET
def enroll_done(request: AuthenticatedHtmxRequest, name: str) -> HttpResponse:
    """Step 5: the first sync's progress, then its counts and where to go next."""
    state = wizard.load(request.session)
    context = _done_context(name)
    return _render(request, "done", state, context)


@integration_admin_required
@require_GET
def enroll_progress(request: AuthenticatedHtmxRequest, name: str) -> HttpResponse:
    """htmx: the first sync's progress fragment (polls itself until the sync finished)."""
    return TemplateResponse(request, f"{TEMPLATES}done.html#progress", _done_context(name))
