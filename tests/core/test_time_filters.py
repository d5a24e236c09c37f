"""The template filters every page uses for times and identifiers (apps/core/templatetags)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apps.core.templatetags.rolegate import absolute, ago, breakable, relative, when

NOW = datetime(2026, 12, 2, 14, 24, 43, 345117, tzinfo=UTC)


def test_relative_times_read_naturally() -> None:
    cases = {
        timedelta(seconds=5): "just now",
        timedelta(seconds=61): "1 minute ago",
        timedelta(minutes=5): "5 minutes ago",
        timedelta(hours=1, minutes=59): "1 hour ago",
        timedelta(hours=3): "3 hours ago",
        timedelta(days=1, hours=2): "yesterday",
        timedelta(days=4): "4 days ago",
        timedelta(days=-2): "in 2 days",
        timedelta(minutes=-90): "in 1 hour",
        timedelta(seconds=-20): "in under a minute",
    }
    for delta, text in cases.items():
        assert relative(NOW - delta, NOW) == text, delta
    assert relative(NOW - timedelta(days=40), NOW) == "on 23 Oct 2026"


def test_one_absolute_format_for_datetimes_and_iso_strings() -> None:
    assert absolute(NOW) == "2 Dec 2026, 14:24 UTC"
    assert absolute(NOW, seconds=True) == "2 Dec 2026, 14:24:43 UTC"
    # A raw ISO string (what JSON status fields carry) renders the same way.
    assert str(when("2026-12-02T14:24:43.345117Z")) == str(when(NOW))
    assert ">2 Dec 2026, 14:24:43 UTC<" in str(when(NOW, "s"))
    assert 'datetime="2026-12-02T14:24:43.345117+00:00"' in str(when(NOW))
    assert when(None) == "" and ago("") == ""
    assert 'title="2 Dec 2026, 14:24 UTC"' in str(ago(NOW))


def test_breakable_identifiers_wrap_only_at_separators_and_stay_escaped() -> None:
    arn = "arn:aws:iam::123456789012:role/Team<A>"
    html = str(breakable(arn))
    assert html == "arn:<wbr>aws:<wbr>iam:<wbr>:<wbr>123456789012:<wbr>role/<wbr>Team&lt;A&gt;"
