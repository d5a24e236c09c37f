"""What each rotation phase does and what the operator must do in AWS, for the admin and CLI."""

from __future__ import annotations

from dataclasses import dataclass

from apps.authority.models import CertificateAuthority


@dataclass(frozen=True)
class PhaseGuidance:
    """Text shown before (confirmation) and after (next steps) a rotation phase."""

    title: str
    before: str
    after: str


_UPDATE_ANCHOR = (
    "aws rolesanywhere update-trust-anchor --trust-anchor-id ID "
    '--source "sourceType=CERTIFICATE_BUNDLE,sourceData={x509CertificateData=$(python manage.py '
    'export_ca --type awsra)}"'
)

PHASE_GUIDANCE: dict[str, PhaseGuidance] = {
    "init": PhaseGuidance(
        title="Start a CA rotation",
        before=(
            "Creates a new standby CA. It does not sign anything yet, but from now on the export "
            "(manage.py export_ca --type awsra, /auth/export?type=awsra) contains both the active "
            "and the new CA certificate."
        ),
        after=(
            "Next, in AWS: update every Roles Anywhere trust anchor that trusts Rolegate with the "
            "new two-certificate bundle (a trust anchor holds up to 2 certificates), e.g.\n  "
            + _UPDATE_ANCHOR
            + "\nThen run the activate phase."
        ),
    ),
    "activate": PhaseGuidance(
        title="Activate the new CA",
        before=(
            "The standby CA starts signing every new leaf certificate. The old CA stays in the "
            "export so certificates it already issued keep working. Do this only after every "
            "trust anchor holds the two-certificate bundle, or issuance will fail in AWS."
        ),
        after=(
            "New leaves are signed by the new CA. Wait at least the longest leaf lifetime "
            "(1 hour at most) and then run the finish phase."
        ),
    ),
    "finish": PhaseGuidance(
        title="Finish the rotation",
        before=(
            "Retires the old CA: it leaves the export and is never used again. Its leaf "
            "certificates will be refused once the trust anchor no longer holds it."
        ),
        after=(
            "Next, in AWS: update every trust anchor with the one-certificate bundle so the old "
            "CA is no longer trusted:\n  " + _UPDATE_ANCHOR
        ),
    ),
    "rollback": PhaseGuidance(
        title="Roll back the rotation",
        before=(
            "After init: retires the standby CA (it never signed). After activate: the old CA "
            "signs again and the new one goes back to standby (still exported)."
        ),
        after=("Update the trust anchors with the current export if you had already changed them."),
    ),
}


def available_phases() -> list[str]:
    """The rotation phases that apply to the current CA states, in the order to run them."""
    states = set(
        CertificateAuthority.objects.exclude(state=CertificateAuthority.State.RETIRED).values_list(
            "state", flat=True
        )
    )
    State = CertificateAuthority.State
    if State.STANDBY in states:
        return ["activate", "rollback"]
    if State.PREVIOUS in states:
        return ["finish", "rollback"]
    return ["init"]


def rotation_status() -> str:
    """A short text of every live CA and the phases that can run next."""
    lines = []
    for authority in CertificateAuthority.objects.exclude(
        state=CertificateAuthority.State.RETIRED
    ).order_by("created_at"):
        lines.append(
            f"  {authority.state:<9} {authority.key_type:<10} until "
            f"{authority.not_after:%Y-%m-%d}  {authority.fingerprint_sha256}"
        )
    if not lines:
        lines.append("  no CA yet (it is created on first use, or with `rotate_ca init`)")
    return "CAs:\n" + "\n".join(lines) + f"\nNext phase(s): {', '.join(available_phases())}\n"
