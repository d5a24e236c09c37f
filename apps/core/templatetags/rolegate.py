"""Template filters for consistent times and readable data on every page.

`when`: an absolute time, always "2 Dec 2026, 14:24 UTC", in a `<time>` element carrying the ISO
value. `ago`: a relative time that reads naturally ("just now", "5 minutes ago", "in 2 hours"),
with the absolute time as its tooltip. `pretty_json`: a value as indented, sorted JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        parsed = parse_datetime(value)
        if parsed is None:
            return None
        moment = parsed
    else:
        return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def absolute(moment: datetime, *, seconds: bool = False) -> str:
    """The one absolute format: `2 Dec 2026, 14:24 UTC` (`14:24:05` with ``seconds``)."""
    clock = f"{moment:%H:%M:%S}" if seconds else f"{moment:%H:%M}"
    return f"{moment.day} {moment:%b %Y}, {clock} UTC"


def relative(moment: datetime, now: datetime | None = None) -> str:
    """`just now`, `1 minute ago`, `3 hours ago`, `yesterday`, `in 5 minutes`, or the date."""
    now = now or timezone.now()
    delta = now - moment
    future = delta < timedelta(0)
    seconds = abs(int(delta.total_seconds()))
    if seconds < 60:
        return "in under a minute" if future else "just now"
    if seconds >= 86400:
        days = seconds // 86400
        if days > 30:
            return f"on {moment.day} {moment:%b %Y}"
        if days == 1:
            return "tomorrow" if future else "yesterday"
        return f"in {days} days" if future else f"{days} days ago"
    size, unit = (3600, "hour") if seconds >= 3600 else (60, "minute")
    count = seconds // size
    text = f"{count} {unit}{'s' if count != 1 else ''}"
    return f"in {text}" if future else f"{text} ago"


@register.filter
def when(value: object, precision: str = "") -> SafeString | str:
    """An absolute time in a `<time>` element (`|when:"s"` adds seconds); "" for no time."""
    moment = _as_datetime(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    text = absolute(moment, seconds=precision == "s")
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), text)


@register.filter
def ago(value: object) -> SafeString | str:
    """A relative time in a `<time>` element with the absolute time as its title."""
    moment = _as_datetime(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        absolute(moment),
        relative(moment),
    )


@register.filter
def pretty_json(value: object) -> str:
    """Indented JSON with sorted keys (escaped by the template like any text)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


@register.filter
def breakable(value: object) -> SafeString:
    """An identifier (ARN, URL) that may wrap only after ':' and '/', never inside a word."""
    text = escape(str(value or ""))
    return mark_safe(text.replace(":", ":<wbr>").replace("/", "/<wbr>"))  # noqa: S308 # nosec B308 B703 - escaped above
