"""A realistic synthetic catalog for the benchmarks: apps over 100 teams and 50 team roles.

Shared by bench/run_load.py and bench/bench_resources.py so the load test and the page
benchmark measure the same organization: `add_apps` writes AwsApp rows as the profile sync
would (labels from the tags, two roles per profile), `team_roles` creates the roles a user of a
large organization holds (allow their team's read role, deny stage apps and Admin roles).
Call after `django.setup()`.
"""

from __future__ import annotations

from typing import Any

ACCOUNT = "123456789012"
TEAMS = 100
ROLES = 50


def add_apps(integration: Any, start: int, stop: int, *, batch_size: int = 5000) -> None:
    """AwsApp rows `start`..`stop`-1 of `integration`, team n % 100, env prod/dev/stage."""
    from django.utils import timezone

    from apps.resources.models import AwsApp
    from apps.resources.naming import app_labels

    now = timezone.now()
    rows = []
    for n in range(start, stop):
        team = f"team-{n % TEAMS}"
        profile_arn = (
            f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:profile/{n:08d}-0000-4000-8000-000000000000"
        )
        rows.append(
            AwsApp(
                name=f"app-{n:06d}-bench",
                integration=integration,
                profile_arn=profile_arn,
                profile_name=f"App{n:06d}",
                labels=app_labels(
                    tags={"team": team, "env": ("prod", "dev", "stage")[n % 3]},
                    account_id=ACCOUNT,
                    integration_name=integration.name,
                    profile_arn=profile_arn,
                ),
                account_id=ACCOUNT,
                region="us-east-1",
                partition="aws",
                role_arns=[
                    f"arn:aws:iam::{ACCOUNT}:role/{team}-read",
                    f"arn:aws:iam::{ACCOUNT}:role/Admin",
                ],
                console_url="https://console.aws.amazon.com/",
                last_confirmed_at=now,
            )
        )
    AwsApp.objects.bulk_create(rows, batch_size=batch_size)


def bench_integration(name: str = "bench") -> Any:
    """An integration no sync runs against (its profiles exist only in the database)."""
    from apps.integrations.models import Integration

    anchor_id = f"{'0' * 8}-0000-4000-8000-{'0' * 12}"
    return Integration.objects.create(
        name=name,
        trust_anchor_arn=f"arn:aws:rolesanywhere:us-east-1:{ACCOUNT}:trust-anchor/{anchor_id}",
        partition="aws",
        region="us-east-1",
        account_id=ACCOUNT,
    )


def team_roles(count: int = ROLES) -> list[str]:
    """`count` roles team-i-access: team i's apps with its read role; deny stage and Admin."""
    from apps.access.services import role_create

    names = []
    for i in range(count):
        name = f"team-{i}-access"
        role_create(
            actor=None,
            name=name,
            spec={
                "allow": {
                    "app_labels": {"aws/team": f"team-{i}"},
                    "aws_role_arns": [f"arn:aws:iam::{ACCOUNT}:role/team-{i}-read"],
                },
                "deny": {"app_labels": {"aws/env": "stage"}, "aws_role_arns": ["*Admin*"]},
            },
        )
        names.append(name)
    return names
