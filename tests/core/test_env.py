"""Settings helpers reject bad values and name the variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from portal import env


def test_bool_accepts_usual_spellings() -> None:
    assert env.env_bool("X", False, environ={"X": "yes"}) is True
    assert env.env_bool("X", True, environ={"X": "off"}) is False
    assert env.env_bool("X", True, environ={}) is True


@pytest.mark.parametrize(
    ("helper", "kwargs", "value", "message"),
    [
        (env.env_bool, {"default": False}, "maybe", "ROLEGATE_FLAG must be a boolean"),
        (env.env_int, {"default": 1}, "ten", "ROLEGATE_FLAG must be an integer"),
        (env.env_int, {"default": 1, "minimum": 30}, "5", "ROLEGATE_FLAG must be at least 30"),
        (env.env_int, {"default": 1, "maximum": 3}, "5", "ROLEGATE_FLAG must be at most 3"),
        (
            env.env_url,
            {"default": "http://x"},
            "ftp://host",
            "ROLEGATE_FLAG must be an http(s) URL",
        ),
        (env.env_url, {"default": "http://x"}, "not a url", "ROLEGATE_FLAG must be an http(s) URL"),
        (
            env.env_choice,
            {"default": "a", "choices": ("a", "b")},
            "c",
            "ROLEGATE_FLAG must be one of a, b",
        ),
        (
            env.env_database,
            {"default": "sqlite:///x"},
            "mysql://h/db",
            "ROLEGATE_FLAG must start with postgres://",
        ),
        (
            env.env_database,
            {"default": "sqlite:///x"},
            "postgres://host",
            "ROLEGATE_FLAG must name a database",
        ),
        (
            env.env_database,
            {"default": "sqlite:///x"},
            "postgres://h:99999999/db",
            "ROLEGATE_FLAG has an invalid port",
        ),
    ],
)
def test_bad_values_name_the_variable(helper, kwargs, value, message) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        helper("ROLEGATE_FLAG", environ={"ROLEGATE_FLAG": value}, **kwargs)
    assert message in str(caught.value)


def test_database_urls() -> None:
    postgres = env.database_from_url(
        "D", "postgres://u:p%40ss@db.example:5433/rolegate?sslmode=require"
    )
    assert postgres["ENGINE"] == "django.db.backends.postgresql"
    assert (postgres["USER"], postgres["PASSWORD"], postgres["HOST"], postgres["PORT"]) == (
        "u",
        "p@ss",
        "db.example",
        "5433",
    )
    assert postgres["OPTIONS"] == {"sslmode": "require"}
    sqlite = env.database_from_url("D", "sqlite:////tmp/x.sqlite3")
    assert sqlite == {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/x.sqlite3"}


def test_list_and_secret(tmp_path) -> None:
    assert env.env_list("L", ["a"], environ={"L": " x, ,y "}) == ["x", "y"]
    secret_file = tmp_path / "sub" / "secret"
    first = env.read_or_create_secret(secret_file)
    assert len(first) >= 50
    assert env.read_or_create_secret(secret_file) == first
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"


SETUP_DJANGO = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings'; django.setup()"
)


def test_production_requires_secret_key(tmp_path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings';"
            " django.setup()",
        ],
        env={
            "ROLEGATE_ENV": "production",
            "PATH": "/usr/bin:/bin",
            "ROLEGATE_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required when ROLEGATE_ENV=production" in result.stderr
