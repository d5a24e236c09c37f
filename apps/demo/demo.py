"""The embedded demo: processes to run and the set-up steps that tell the guide's story."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings


@dataclass
class DemoLogins:
    """Generated passwords, kept in var/demo-logins (mode 0600) so a second run reuses them."""

    path: Path
    passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> DemoLogins:
        """Read the stored logins (none on the first run)."""
        logins = cls(path)
        if path.exists():
            for line in path.read_text().splitlines():
                name, _, password = line.partition(" ")
                if name and password:
                    logins.passwords[name] = password
        return logins

    def password_for(self, username: str) -> tuple[str, bool]:
        """Return (password, created_now) for ``username``."""
        if username in self.passwords:
            return self.passwords[username], False
        password = secrets.token_urlsafe(12)
        self.passwords[username] = password
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{name} {value}\n" for name, value in self.passwords.items())
        return password, True


def wait_for_port(host: str, port: int, *, timeout: float = 60.0) -> bool:
    """Poll until something listens on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.2)
    return False


class Supervisor:
    """Runs the demo's processes and stops all of them on Ctrl-C or when one dies."""

    def __init__(self, environ: dict[str, str], log: Callable[[str], None]) -> None:
        self.environ = environ
        self.log = log
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        """Start one named process in its own process group."""
        self.log(f"starting {name}: {' '.join(argv)}")
        self.processes[name] = subprocess.Popen(  # noqa: S603 - argv built from our own constants
            argv, env=self.environ, cwd=settings.BASE_DIR, start_new_session=True
        )

    def wait(self) -> int:
        """Block until Ctrl-C or a process exits; then stop everything."""
        stop = {"signal": False}

        def on_signal(signum: int, frame: object) -> None:
            stop["signal"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        exit_code = 0
        while not stop["signal"]:
            for name, process in self.processes.items():
                code = process.poll()
                if code is not None:
                    self.log(f"{name} exited with code {code}; stopping the demo")
                    exit_code = code or 1
                    stop["signal"] = True
                    break
            time.sleep(0.3)
        self.stop_all()
        return exit_code

    def stop_all(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after 10 s."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.log("demo stopped")


def python() -> str:
    """The interpreter running the demo (the project's virtualenv)."""
    return sys.executable


DEMO_INTEGRATION = "aws-sandbox"
DEMO_ROLE = "example-read-only-access"
GUIDE_ROLE_ARN = "arn:aws:iam::123456789012:role/ExampleReadOnlyAccess"
GUIDE_APP = f"examplereadonlyaccess-{DEMO_INTEGRATION}"


def aws_environment(sandbox_url: str) -> dict[str, str]:
    """Send Rolegate's AWS calls and the console federation sign-in to the sandbox."""
    # AWS_ENDPOINT_URL does not cover the sign-in endpoint (not an SDK service): without the
    # override, Launch would send the user's credentials to signin.aws.amazon.com.
    return {"AWS_ENDPOINT_URL": sandbox_url, "ROLEGATE_AWS_SIGNIN_URL": sandbox_url}


@dataclass(frozen=True)
class EnrollmentResult:
    """What enrolling the sandbox account produced."""

    trust_anchor_arn: str
    profile_arn: str
    role_arn: str


def enroll_sandbox(*, sandbox_url: str, credentials_file: Path) -> EnrollmentResult:
    """Run the wizard's AWS CLI script against the sandbox as its operator (guide step 1)."""
    from apps.authority.selectors import ca_bundle_pem
    from apps.integrations.enrollment.policies import EnrollmentNames
    from apps.integrations.enrollment.script import enrollment_script, parse_script_output

    script = enrollment_script(
        names=EnrollmentNames(integration=DEMO_INTEGRATION),
        cluster=settings.ROLEGATE_CLUSTER_NAME,
        ca_bundle_pem=ca_bundle_pem(),
    )
    environ = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 # nosec B108 - only the AWS CLI's cache dir
        "AWS_ENDPOINT_URL": sandbox_url,
        "AWS_REGION": "us-east-1",
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials_file),
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_PROFILE": "sandbox-admin",
    }
    result = subprocess.run(  # noqa: S603 - our own generated script, fed on stdin
        [shutil.which("bash") or "/bin/bash", "-s"],
        input=script,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the enrollment script failed:\n{result.stderr.strip()}")
    arns = parse_script_output(result.stdout)
    return EnrollmentResult(arns["trust_anchor_arn"], arns["profile_arn"], arns["role_arn"])


def guide_documents(
    enrollment: EnrollmentResult, guide_profile_arn: str
) -> list[dict[str, object]]:
    """The integration, the guide's role and alice, as resource YAML documents."""
    return [
        {
            "kind": "integration",
            "sub_kind": "aws-ra",
            "version": "v1",
            "metadata": {"name": DEMO_INTEGRATION},
            "spec": {
                "aws_ra": {
                    "trust_anchor_arn": enrollment.trust_anchor_arn,
                    "profile_sync_config": {
                        "enabled": True,
                        "profile_arn": enrollment.profile_arn,
                        "role_arn": enrollment.role_arn,
                        "profile_accepts_role_session_name": True,
                    },
                }
            },
        },
        {
            "kind": "role",
            "version": "v7",
            "metadata": {"name": DEMO_ROLE},
            "spec": {
                "allow": {
                    "app_labels": {
                        "rolegate.dev/aws-roles-anywhere-profile-arn": guide_profile_arn
                    },
                    "aws_role_arns": [GUIDE_ROLE_ARN],
                }
            },
        },
        {
            "kind": "user",
            "version": "v2",
            "metadata": {"name": "alice"},
            "spec": {"roles": [DEMO_ROLE], "traits": {}, "email": "alice@example.com"},
        },
    ]


def guide_profile_arn(*, sandbox_url: str, credentials_file: Path) -> str:
    """The ARN of the guide's ExampleReadOnlyAccess profile, read as the sandbox operator."""
    import configparser

    import boto3

    parser = configparser.ConfigParser()
    parser.read(credentials_file)
    section = parser["sandbox-admin"]
    client = boto3.session.Session(
        aws_access_key_id=section["aws_access_key_id"],
        aws_secret_access_key=section["aws_secret_access_key"],
        region_name="us-east-1",
    ).client("rolesanywhere", endpoint_url=sandbox_url)
    for page in client.get_paginator("list_profiles").paginate():
        for profile in page["profiles"]:
            if profile["name"] == "ExampleReadOnlyAccess":
                return str(profile["profileArn"])
    raise RuntimeError("the sandbox has no ExampleReadOnlyAccess profile (was it seeded?)")
