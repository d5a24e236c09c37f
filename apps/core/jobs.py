"""Queue a Celery task by its registered name.

A service that starts a task must not import the task module that calls the service back (that is
a cycle); it looks the task up by name, as the beat schedule does. Each app imports its task
module in ``AppConfig.ready()``, so the name is registered in every process.
"""

from __future__ import annotations

from typing import Any

from celery import Task, current_app


def task(name: str) -> Task[Any, Any]:
    """The registered task called ``name`` (KeyError when no ready() imported its module)."""
    return current_app.tasks[name]
