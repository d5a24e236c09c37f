"""Trust nothing sent: every value the proxy supplies is checked before it reaches a disk or a TTY.

A malicious or man-in-the-middled proxy must not be able to write into `~/.aws/config` (a region
such as ``"us-east-1\\n[default]\\ncredential_process = sh -c …"`` would run its command on the
next `aws` call) nor drive the user's terminal with escape sequences. So:

* app names, regions and role ARNs are full-matched against their patterns (ARNs through
  `awsra.arn`, the one strict ARN parser);
* any server string with a control character (C0, DEL, C1, or a Unicode line/paragraph
  separator) is refused outright with exit 9;
* anything printed from the server goes through `escape` anyway (defence in depth).

Standard library only (plus `awsra.arn`, itself standard library only).
"""

from __future__ import annotations

import re
from typing import Any

from rolegate.errors import CliError, ExitCode

APP_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}", re.ASCII)
# The AWS region pattern (partition prefix, area, number): us-east-1, us-gov-west-1, cn-north-1.
REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+){1,2}-[0-9]{1,2}", re.ASCII)
ACCOUNT_RE = re.compile(r"[0-9]{12}", re.ASCII)
# C0 controls, DEL, C1 controls, and the Unicode line/paragraph separators terminals honour.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
INVALID_ANSWER = "the proxy answered something that is not valid"
MAX_DEPTH = 32


def invalid(what: str) -> CliError:
    """The one error for a hostile or broken answer (exit 9); `what` is already escaped."""
    return CliError(f"{INVALID_ANSWER}: {what}", ExitCode.SERVER)


def escape(text: object) -> str:
    """`text` with every control character shown as an escape, safe for a terminal."""
    value = str(text)
    if not CONTROL_RE.search(value):
        return value
    return CONTROL_RE.sub(lambda match: match.group().encode("unicode_escape").decode(), value)


def check_tree(data: Any, where: str = "answer", depth: int = 0) -> None:
    """Refuse any string (key or value) with a control character anywhere in `data`."""
    if depth > MAX_DEPTH:
        raise invalid(f"{where} is nested too deeply")
    if isinstance(data, str):
        if CONTROL_RE.search(data):
            raise invalid(f"{where} contains a control character ({escape(data)[:80]})")
    elif isinstance(data, dict):
        for key, value in data.items():
            check_tree(key, where, depth + 1)
            check_tree(value, f"{where}.{escape(key)[:40]}", depth + 1)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            check_tree(value, f"{where}[{index}]", depth + 1)


def is_app_name(value: object) -> bool:
    """True for a name usable as a profile section header and a command argument."""
    return isinstance(value, str) and APP_NAME_RE.fullmatch(value) is not None


def is_region(value: object) -> bool:
    """True for a string of the AWS region form."""
    return isinstance(value, str) and REGION_RE.fullmatch(value) is not None


def role_arn(value: object, where: str = "role ARN") -> str:
    """A role ARN the proxy sent, through awsra's strict parser, or the exit-9 error."""
    from awsra.arn import ArnError, parse_role_arn

    if not isinstance(value, str):
        raise invalid(f"{where} is not a string")
    try:
        return parse_role_arn(value).arn
    except ArnError:
        raise invalid(f"{where} {escape(value)[:120]!s} is not an IAM role ARN") from None


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (where plain http cannot be intercepted)."""
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The AWS console's federation endpoints, per partition (regional ones are <region>.signin…).
SIGNIN_DOMAINS = ("signin.aws.amazon.com", "signin.amazonaws-us-gov.com", "signin.amazonaws.cn")


def console_url(value: object) -> str:
    """The console sign-in URL the proxy sent, or the exit-9 error.

    Only an AWS federation endpoint (``https://[<region>.]signin.<partition domain>/federation``)
    or a loopback address (an offline sandbox) is opened: a hostile proxy cannot send the
    browser to a page of its choosing.
    """
    from urllib.parse import urlsplit

    if not isinstance(value, str) or CONTROL_RE.search(value) or len(value) > 8192:
        raise invalid("the console answer has no sign-in URL")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise invalid("the console sign-in URL is malformed") from None
    if parts.username is not None or parts.password is not None or not host:
        raise invalid("the console sign-in URL is malformed")
    if is_loopback(host) and parts.scheme in ("http", "https"):
        return value
    official = any(host == domain or host.endswith("." + domain) for domain in SIGNIN_DOMAINS)
    if parts.scheme != "https" or not official or parts.path != "/federation":
        raise invalid(f"the console sign-in URL {escape(value)[:80]!s} is not an AWS sign-in page")
    return value


def app_entry(item: Any) -> dict[str, Any]:
    """One entry of `GET /apps`, checked field by field; the exit-9 error when anything is off."""
    if not isinstance(item, dict):
        raise invalid("an app entry is not an object")
    check_tree(item, "app entry")
    name = item.get("name")
    if not is_app_name(name):
        raise invalid(f"app name {escape(name)[:80]!r} is not a valid name")
    region = item.get("region")
    if region not in (None, "") and not is_region(region):
        raise invalid(f"region {escape(region)[:80]!r} of app {name} is not an AWS region")
    account = item.get("account_id")
    if account not in (None, "") and not (
        isinstance(account, str) and ACCOUNT_RE.fullmatch(account)
    ):
        raise invalid(f"account id {escape(account)[:40]!r} of app {name} is not an AWS account")
    arns = item.get("aws_role_arns") or []
    if not isinstance(arns, list):
        raise invalid(f"the roles of app {name} are not a list")
    checked = dict(item)
    checked["aws_role_arns"] = [role_arn(arn, f"role ARN of app {name}") for arn in arns]
    return checked
