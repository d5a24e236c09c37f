"""A Rolegate process on a private PostgreSQL, driven line by line from a test.

`python -m tests.reliability.rolegate_process` sets Django up on `DATABASE_URL` (the test's
private cluster), starts its own sandbox, builds the reference guide's launch scenario in it,
prints `READY <sandbox url>` and then runs one command per input line, each in a thread, printing
one JSON line per finished command:

- `issue` — alice's CLI credentials through the one issuance path;
- `sync` — the profile sync of the scenario's integration;
- `get PATH` — a page through Django's test client (the full middleware and error handling).

The test stops and freezes the database around these while they run; this process only reports
what Rolegate answered, so the test's assertions rest on the database and the sandbox.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")


class _Settings:
    """`build_launch_scenario` sets a few settings; here they are set for the process."""

    def __setattr__(self, name: str, value: Any) -> None:
        from django.conf import settings

        setattr(settings, name, value)


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


def main() -> None:
    import django

    django.setup()
    from django.test import Client

    from apps.integrations.services import integration_sync
    from apps.resources.services import aws_credentials_issue
    from sandbox.server import Sandbox
    from tests.resources.conftest import INTEGRATION, build_launch_scenario

    sandbox = Sandbox(host="127.0.0.1", port=0).start()
    scenario = build_launch_scenario(
        sandbox, setenv=lambda k, v: os.environ.__setitem__(k, v), settings=_Settings()
    )
    client = Client(raise_request_exception=False)
    client.force_login(scenario.alice)
    _emit({"ready": True, "sandbox": sandbox.url, "app": scenario.app.name})

    def run(command: str) -> None:
        started = time.monotonic()
        result: dict[str, Any] = {"command": command}
        try:
            if command == "issue":
                aws_credentials_issue(
                    actor=scenario.alice,
                    app_name=scenario.app.name,
                    role_arn=scenario.role_arn,
                    purpose="cli",
                )
                result["outcome"] = "issued"
            elif command == "sync":
                result["outcome"] = integration_sync(name=INTEGRATION).status
            elif command.startswith("get "):
                response = client.get(command[4:])
                result["outcome"] = response.status_code
                result["body"] = response.content.decode(errors="replace")[:2000]
        except Exception as error:
            result["outcome"] = type(error).__name__
            result["message"] = str(getattr(error, "message", error))[:2000]
            result["trace"] = traceback.format_exc()[-6000:]
        finally:
            from django.db import connection

            connection.close()
        result["seconds"] = round(time.monotonic() - started, 2)
        _emit(result)

    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command:
            threading.Thread(target=run, args=(command,), daemon=True).start()
    sandbox.stop()


if __name__ == "__main__":
    main()
