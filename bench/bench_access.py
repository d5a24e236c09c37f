"""Benchmark the access engine: accessible_apps for 50 roles over 10,000 apps, and explain.

Run: `.venv/bin/python bench/bench_access.py [--apps 10000] [--repeat 15] [--write]`.
`--write` replaces the "## access engine" section of bench/RESULTS.md. No database: the engine is
pure, and the selectors add one role query (the apps list comes from the resources layer).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rbac.decision import (
    AppCatalog,
    AppFacts,
    CompiledRole,
    Evaluator,
    Traits,
    compile_role,
)
from rbac.spec import parse_role_spec

TEAMS = [f"team{i:02d}" for i in range(20)]
ENVIRONMENTS = ["prod", "prod-eu", "dev", "staging"]
ACCOUNTS = [f"{100000000000 + i * 1111:012d}" for i in range(50)]
TARGET_MS = 50.0


def make_apps(count: int) -> list[AppFacts]:
    """Apps shaped like the profile sync makes them, spread over 50 accounts and 20 teams."""
    apps = []
    for i in range(count):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        team = TEAMS[i % len(TEAMS)]
        environment = ENVIRONMENTS[i % len(ENVIRONMENTS)]
        profile = (
            f"arn:aws:rolesanywhere:us-east-1:{account}:profile/{i:08x}-0000-4000-8000-000000000000"
        )
        labels = {
            "rolegate.dev/aws-roles-anywhere-profile-arn": profile,
            "rolegate.dev/integration": f"aws-{i % 5}",
            "rolegate.dev/account-id": account,
            "aws_account_id": account,
            "aws/Team": team,
            "aws/Environment": environment,
        }
        if i % 100 == 0:
            labels["aws/Sensitive"] = "true"
        apps.append(
            AppFacts(
                name=f"app-{i}",
                labels=labels,
                account_id=account,
                role_arns=frozenset(
                    {
                        f"arn:aws:iam::{account}:role/ReadOnly",
                        f"arn:aws:iam::{account}:role/Admin",
                        f"arn:aws:iam::{account}:role/{team}-Deploy",
                    }
                ),
            )
        )
    return apps


def make_roles(apps: list[AppFacts]) -> list[CompiledRole]:
    """50 roles mixing literal, glob, regex, wildcard and template rules, plus denies."""
    specs: list[tuple[str, dict[str, object]]] = []
    for i in range(20):  # the guide's shape: one profile, one role
        app = apps[i * 37 % len(apps)]
        specs.append(
            (
                f"profile-{i}",
                {
                    "allow": {
                        "app_labels": {
                            "teleport.dev/aws-roles-anywhere-profile-arn": app.labels[
                                "rolegate.dev/aws-roles-anywhere-profile-arn"
                            ]
                        },
                        "aws_role_arns": [f"arn:aws:iam::{app.account_id}:role/ReadOnly"],
                    }
                },
            )
        )
    for i in range(10):  # per team, every account
        team = TEAMS[i]
        arns = [f"arn:aws:iam::{a}:role/{team}-Deploy" for a in ACCOUNTS]
        specs.append(
            (f"team-{i}", {"allow": {"app_labels": {"aws/Team": team}, "aws_role_arns": arns}})
        )
    for i in range(5):  # environment globs
        specs.append(
            (
                f"env-{i}",
                {
                    "allow": {
                        "app_labels": {"aws/Environment": ["prod*", "staging"][i % 2]},
                        "aws_role_arns": [f"arn:aws:iam::{ACCOUNTS[i]}:role/ReadOnly"],
                    }
                },
            )
        )
    for i in range(5):  # account regexes
        specs.append(
            (
                f"acct-{i}",
                {
                    "allow": {
                        "app_labels": {"aws_account_id": f"^1000000{i}.*$"},
                        "aws_role_arns": [f"arn:aws:iam::{a}:role/ReadOnly" for a in ACCOUNTS[:10]],
                    }
                },
            )
        )
    for i in range(3):  # globs over a label that is unique per app
        specs.append(
            (
                f"profile-glob-{i}",
                {
                    "allow": {
                        "app_labels": {
                            "rolegate.dev/aws-roles-anywhere-profile-arn": (
                                f"arn:aws:rolesanywhere:*:{ACCOUNTS[i]}:profile/*"
                            )
                        },
                        "aws_role_arns": [f"arn:aws:iam::{ACCOUNTS[i]}:role/Admin"],
                    }
                },
            )
        )
    for i in range(2):  # templates over every app
        specs.append(
            (
                f"traits-{i}",
                {
                    "allow": {
                        "app_labels": {"*": "*"},
                        "aws_role_arns": [
                            "{{internal.aws_role_arns}}",
                            "{{external.aws_role_arns}}",
                        ],
                    }
                },
            )
        )
    specs.append(("deny-sensitive", {"deny": {"app_labels": {"aws/Sensitive": "true"}}}))
    specs.append(
        (
            "deny-prod-admin",
            {
                "deny": {
                    "app_labels": {"aws/Environment": "prod*"},
                    "aws_role_arns": ["*:role/Admin"],
                }
            },
        )
    )
    specs.append(
        (
            "deny-regex",
            {"deny": {"app_labels": {"aws/Team": "^team1[0-9]$"}, "aws_role_arns": ["^.*Deploy$"]}},
        )
    )
    specs.append(
        ("deny-integration", {"deny": {"app_labels": {"rolegate.dev/integration": "aws-4"}}})
    )
    specs.append(
        (
            "deny-template",
            {"deny": {"app_labels": {"*": "*"}, "aws_role_arns": ["{{internal.denied}}"]}},
        )
    )
    assert len(specs) == 50, len(specs)
    return [compile_role(parse_role_spec(name, spec)) for name, spec in specs]


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds for `repeat` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    """Run the benchmark, print a table, optionally record it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    args = parser.parse_args()

    apps = make_apps(args.apps)
    roles = make_roles(apps)
    traits = Traits.from_mappings(
        {
            "aws_role_arns": [f"arn:aws:iam::{a}:role/ReadOnly" for a in ACCOUNTS[:5]],
            "denied": [f"arn:aws:iam::{ACCOUNTS[0]}:role/ReadOnly"],
        },
        {"aws_role_arns": [f"arn:aws:iam::{ACCOUNTS[7]}:role/Admin", "*"]},
    )

    listed = Evaluator(roles, traits).accessible_apps(apps)
    # The fast path must agree with the per-app path it replaces.
    evaluator = Evaluator(roles, traits)
    slow = [(a, tuple(sorted(s))) for a in apps if (s := evaluator.allowed_aws_roles(a))]
    assert listed == slow, "accessible_apps disagrees with allowed_aws_roles"

    catalog = AppCatalog(apps)
    Evaluator(roles, traits).accessible_apps(catalog)  # warm the per-key indexes once
    accessible = timed(lambda: Evaluator(roles, traits).accessible_apps(catalog), args.repeat)
    cold = timed(lambda: Evaluator(roles, traits).accessible_apps(apps), args.repeat)
    naive = timed(lambda: [evaluator.allowed_aws_roles(a) for a in apps], max(3, args.repeat // 5))
    compile_all = timed(lambda: [compile_role(r.spec) for r in roles], max(3, args.repeat // 3))
    sample = apps[:200]
    explain_ms = timed(lambda: [evaluator.explain(a) for a in sample], 5)
    explain_arn = timed(
        lambda: [evaluator.explain(a, f"arn:aws:iam::{a.account_id}:role/Admin") for a in sample], 5
    )

    median = statistics.median(accessible)
    p90 = sorted(accessible)[int(len(accessible) * 0.9) - 1]
    per_app = f"50 roles x {args.apps:,} apps, templates expanded per call"
    rows = [
        (f"`accessible_apps`, warm catalog ({per_app})", f"{median:.1f} ms", f"p90 {p90:.1f} ms"),
        (
            "`accessible_apps`, cold: label indexes built in the call",
            f"{statistics.median(cold):.1f} ms",
            "first user after an app change",
        ),
        (
            "per-app `allowed_aws_roles` loop, same inputs",
            f"{statistics.median(naive):.1f} ms",
            "what the index saves",
        ),
        (
            "compile 50 roles",
            f"{statistics.median(compile_all):.2f} ms",
            "cached by (name, updated_at) in the selectors",
        ),
        (
            "`explain(app)`",
            f"{statistics.median(explain_ms) / len(sample) * 1000:.0f} us",
            "per call",
        ),
        (
            "`explain(app, role_arn)`",
            f"{statistics.median(explain_arn) / len(sample) * 1000:.0f} us",
            "per call",
        ),
    ]
    verdict = "meets" if median <= TARGET_MS else "MISSES"
    header = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `.venv/bin/python bench/bench_access.py"
        f" --apps {args.apps} --repeat {args.repeat}` (Python {platform.python_version()}, "
        f"{platform.machine()}, shared 2-core machine). {len(listed):,} of {args.apps:,} apps "
        f"accessible. Median {median:.1f} ms {verdict} the {TARGET_MS:.0f} ms target."
    )
    table = ["| measurement | median | note |", "|---|---:|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    section = "## access engine\n\n" + header + "\n\n" + "\n".join(table) + "\n"
    print(section)
    if args.write:
        record(section)
    return 0 if median <= TARGET_MS else 1


def record(section: str) -> None:
    """Replace (or append) the access engine section, keeping every other section."""
    path = Path(__file__).resolve().parent / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find("## access engine")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
