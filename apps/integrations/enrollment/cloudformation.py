"""The CloudFormation template equivalent of the enrollment script."""

from __future__ import annotations

from typing import Any

import yaml

from apps.integrations.enrollment.policies import (
    INLINE_POLICY_NAME,
    OWNER_ORIGIN,
    OWNER_TAG_CLUSTER,
    OWNER_TAG_INTEGRATION,
    OWNER_TAG_ORIGIN,
    EnrollmentNames,
    sync_role_permissions_policy,
    sync_role_trust_policy,
)

_TRUST_ANCHOR_ARN = {"Fn::GetAtt": ["TrustAnchor", "TrustAnchorArn"]}


def _tags(names: EnrollmentNames, cluster: str) -> list[dict[str, str]]:
    return [
        {"Key": OWNER_TAG_INTEGRATION, "Value": names.integration},
        {"Key": OWNER_TAG_CLUSTER, "Value": cluster},
        {"Key": OWNER_TAG_ORIGIN, "Value": OWNER_ORIGIN},
    ]


def enrollment_template(
    *, names: EnrollmentNames, cluster: str, ca_bundle_pem: str, session_revocation: bool = False
) -> dict[str, Any]:
    """The template as a dict (long-form intrinsics, so any YAML or JSON parser reads it)."""
    trust_policy = sync_role_trust_policy("TRUST_ANCHOR_ARN")
    trust_policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] = _TRUST_ANCHOR_ARN
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"Rolegate IAM Roles Anywhere integration {names.integration} (cluster {cluster})"
        ),
        "Resources": {
            "TrustAnchor": {
                "Type": "AWS::RolesAnywhere::TrustAnchor",
                "Properties": {
                    "Name": names.trust_anchor,
                    "Enabled": True,
                    "Source": {
                        "SourceType": "CERTIFICATE_BUNDLE",
                        "SourceData": {"X509CertificateData": ca_bundle_pem.strip()},
                    },
                    "Tags": _tags(names, cluster),
                },
            },
            "SyncRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": names.sync_role,
                    "Description": "Used by Rolegate to sync IAM Roles Anywhere profiles.",
                    "AssumeRolePolicyDocument": trust_policy,
                    "Policies": [
                        {
                            "PolicyName": INLINE_POLICY_NAME,
                            "PolicyDocument": sync_role_permissions_policy(
                                session_revocation=session_revocation
                            ),
                        }
                    ],
                    "Tags": _tags(names, cluster),
                },
            },
            "SyncProfile": {
                "Type": "AWS::RolesAnywhere::Profile",
                "Properties": {
                    "Name": names.sync_profile,
                    "RoleArns": [{"Fn::GetAtt": ["SyncRole", "Arn"]}],
                    "AcceptRoleSessionName": True,
                    "Enabled": True,
                    "Tags": _tags(names, cluster),
                },
            },
        },
        "Outputs": {
            "TrustAnchorArn": {"Value": _TRUST_ANCHOR_ARN},
            "ProfileArn": {"Value": {"Fn::GetAtt": ["SyncProfile", "ProfileArn"]}},
            "RoleArn": {"Value": {"Fn::GetAtt": ["SyncRole", "Arn"]}},
        },
    }


def enrollment_template_yaml(
    *, names: EnrollmentNames, cluster: str, ca_bundle_pem: str, session_revocation: bool = False
) -> str:
    """The template as YAML text for download."""
    template = enrollment_template(
        names=names,
        cluster=cluster,
        ca_bundle_pem=ca_bundle_pem,
        session_revocation=session_revocation,
    )
    return yaml.safe_dump(template, sort_keys=False, width=120)
