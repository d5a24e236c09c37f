"""The issuance counters' decorator: it knows the issuance errors, so it lives with them."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from apps.access.errors import AccessDenied
from apps.core.metrics import CREATE_SESSION_ERRORS, ISSUANCE_SECONDS, ISSUANCES
from apps.resources.errors import AppNotFound, AuditUnavailable, IssuanceError, LaunchInputError

_P = ParamSpec("_P")
_R = TypeVar("_R")


def observe_issuance(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Count an issuance service's outcome (from what it returns or raises) and time it."""

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        purpose = str(kwargs.get("purpose", "unknown"))[:32]
        started = time.perf_counter()
        outcome = "error"
        try:
            result = function(*args, **kwargs)
            outcome = "issued"
            return result
        except AppNotFound:
            outcome = "not_found"
            raise
        except AuditUnavailable:
            outcome = "audit_unavailable"  # the failed audit write itself counts in audit_record
            raise
        except IssuanceError as error:
            if error.aws_code:
                CREATE_SESSION_ERRORS.labels(code=error.aws_code[:64]).inc()
            raise
        except LaunchInputError:
            outcome = "bad_request"
            raise
        except AccessDenied:
            outcome = "denied"
            raise
        finally:
            ISSUANCES.labels(outcome=outcome, purpose=purpose).inc()
            ISSUANCE_SECONDS.labels(outcome=outcome).observe(time.perf_counter() - started)

    return wrapper
