"""The enrollment wizard's state: a draft kept in the operator's session until "Enable sync".

Nothing reaches the Integration table before the last step, so an abandoned wizard leaves no
trace but a session key; coming back to the wizard resumes where the draft stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from apps.core.registry import NAME_RE
from apps.integrations.enrollment.policies import EnrollmentNames, is_rolegate_owned
from apps.integrations.enrollment.probe import ProbeResult
from apps.integrations.models import Integration, SyncRun
from apps.integrations.spec import NAME_RULE, compile_profile_name_filters, profile_name_matches

SESSION_KEY = "rolegate.enrollment.v1"
STEPS = ("name", "setup", "connect", "profiles")
STEP_TITLES = {
    "name": "Name",
    "setup": "Set up AWS",
    "connect": "Connect",
    "profiles": "Choose profiles",
    "done": "Done",
}
FILTER_ALL = "all"
FILTER_SOME = "filters"
# Shown on the Done step when no run appeared: the worker may be down.
WORKER_HINT_AFTER = timedelta(minutes=1)


@dataclass
class WizardState:
    """Everything the operator entered so far, and which steps passed server-side checks."""

    name: str = ""
    # Blank: the integration's default name (policies.default_names).
    trust_anchor: str = ""
    sync_role: str = ""
    sync_profile: str = ""
    name_done: bool = False
    setup_done: bool = False
    script_output: str = ""
    trust_anchor_arn: str = ""
    profile_arn: str = ""
    role_arn: str = ""
    connect_done: bool = False
    # The ARNs the last test ran with: changing any ARN makes the test stale.
    tested_arns: list[str] = field(default_factory=list)
    probe: dict[str, Any] | None = None
    filter_mode: str = FILTER_ALL
    filters_text: str = ""
    # The live-session kill switch: changes the sync role's permissions (issue 18).
    session_revocation: bool = False

    def names(self) -> EnrollmentNames:
        """The AWS resource names for the script and the template."""
        return EnrollmentNames(
            integration=self.name,
            trust_anchor=self.trust_anchor,
            sync_role=self.sync_role,
            sync_profile=self.sync_profile,
        )

    @property
    def arns(self) -> list[str]:
        """The three ARNs in a fixed order."""
        return [self.trust_anchor_arn, self.profile_arn, self.role_arn]

    def probe_result(self) -> ProbeResult | None:
        """The last test's result, if it ran with the current ARNs."""
        if self.probe is None or self.tested_arns != self.arns:
            return None
        try:
            return ProbeResult.from_data(self.probe)
        except (TypeError, ValueError, AttributeError):
            # A draft written by an older Rolegate: treat it as untested.
            return None

    @property
    def tested(self) -> bool:
        """True when a successful test ran with the current ARNs."""
        result = self.probe_result()
        return result is not None and result.ok

    def record_probe(self, result: ProbeResult) -> None:
        """Remember a test's result for the current ARNs."""
        self.probe = result.as_data()
        self.tested_arns = self.arns

    def completed(self, step: str) -> bool:
        """Has ``step`` passed its server-side checks (with the current values)?"""
        if step == "name":
            return self.name_done
        if step == "setup":
            return self.name_done and self.setup_done
        if step == "connect":
            return self.completed("setup") and self.connect_done and self.tested
        return False

    def current_step(self) -> str:
        """The first step not completed yet: where a resumed wizard continues."""
        for step in STEPS:
            if not self.completed(step):
                return step
        return STEPS[-1]

    def may_open(self, step: str) -> bool:
        """Every step before ``step`` is completed."""
        index = STEPS.index(step)
        return all(self.completed(previous) for previous in STEPS[:index])

    def filters(self) -> list[str]:
        """The filter lines entered (blank lines dropped)."""
        return [line.strip() for line in self.filters_text.splitlines() if line.strip()]


def load(session: SessionBase) -> WizardState:
    """The draft in ``session`` (a fresh one if there is none or it is unreadable)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return WizardState()
    fresh = WizardState()
    values: dict[str, Any] = {}
    for item in fields(WizardState):
        if item.name not in data:
            continue
        value, default = data[item.name], getattr(fresh, item.name)
        expected: tuple[type, ...] = (
            (dict, type(None)) if item.name == "probe" else (type(default),)
        )
        if not isinstance(value, expected):
            # Not what this code writes: start over rather than trip on it later.
            return fresh
        values[item.name] = value
    return WizardState(**values)


def save(session: SessionBase, state: WizardState) -> None:
    """Store the draft in ``session``."""
    session[SESSION_KEY] = asdict(state)


def clear(session: SessionBase) -> None:
    """Forget the draft (after "Enable sync", or "Start over")."""
    session.pop(SESSION_KEY, None)


# -- reads ------------------------------------------------------------------------------------


def integration_name_error(name: str) -> str:
    """Why ``name`` cannot be a new integration's name (format, then uniqueness), or ""."""
    if not name:
        return "Enter a name for the integration."
    if not NAME_RE.match(name):
        return f"The name {NAME_RULE}."
    if Integration.objects.filter(name=name).exists():
        return f"An integration named {name!r} already exists; choose another name."
    return ""


def enrolled_integration(name: str) -> Integration | None:
    """The integration the wizard saved under ``name``, if it exists."""
    return Integration.objects.filter(name=name).first()


@dataclass(frozen=True)
class FirstSync:
    """The Done step's view of the first sync after enrollment."""

    state: str  # "queued", "running", "finished"
    run: SyncRun | None
    waiting_since: datetime
    worker_hint: bool


def first_sync(integration: Integration, *, now: datetime | None = None) -> FirstSync:
    """The first finished run since the integration was created (or where it stands)."""
    now = now or timezone.now()
    runs = integration.sync_runs.filter(started_at__gte=integration.created_at)
    finished = (
        runs.filter(status__in=(SyncRun.Status.SUCCESS, SyncRun.Status.ERROR))
        .order_by("started_at", "id")
        .first()
    )
    if finished is not None:
        return FirstSync("finished", finished, integration.created_at, False)
    running = runs.filter(status=SyncRun.Status.RUNNING).order_by("-started_at").first()
    if running is not None:
        return FirstSync("running", running, integration.created_at, False)
    waited = now - integration.created_at
    return FirstSync("queued", None, integration.created_at, waited > WORKER_HINT_AFTER)


@dataclass(frozen=True)
class PreviewRow:
    """One profile in the Choose-profiles preview: will it be synced, and if not, why."""

    name: str
    arn: str
    synced: bool
    reason: str


def preview(result: ProbeResult | None, filter_list: list[str]) -> list[PreviewRow]:
    """Which tested profiles the filters would sync (the sync's own matcher decides)."""
    if result is None:
        return []
    matchers = compile_profile_name_filters(filter_list)
    rows: list[PreviewRow] = []
    for profile in result.profiles:
        if is_rolegate_owned(profile.tags):
            rows.append(PreviewRow(profile.name, profile.arn, False, "Rolegate's own sync profile"))
        elif not profile.enabled:
            rows.append(PreviewRow(profile.name, profile.arn, False, "disabled"))
        elif not profile_name_matches(profile.name, matchers):
            rows.append(PreviewRow(profile.name, profile.arn, False, "no filter matches"))
        else:
            rows.append(PreviewRow(profile.name, profile.arn, True, ""))
    return rows
