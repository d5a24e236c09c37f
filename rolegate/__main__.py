"""Entry point of the `rolegate` command.

`rolegate aws credentials` runs for every AWS CLI call and `rolegate exec` wraps commands, so
both are parsed here by hand, importing only what a cache hit needs (not even argparse or
typing); every other command, and anything unusual on these two, goes to rolegate.cli.
"""

from __future__ import annotations

import sys

from rolegate.errors import CliError, ExitCode

TYPE_CHECKING = False  # mypy reads this as True; at run time nothing more is imported
if TYPE_CHECKING:
    from collections.abc import Sequence

_FAST_OPTIONS = {
    "credentials": ("--app", "--aws-role", "--proxy"),
    "exec": ("--aws-role", "--proxy", "--region"),
}


def _fast_path(argv: list[str]) -> int | None:
    """`aws credentials` and `exec` without building the whole parser (they run for every AWS
    CLI call and every wrapped command); None sends anything unusual to argparse."""
    if argv[:2] == ["aws", "credentials"]:
        kind, rest = "credentials", argv[2:]
    elif argv[:1] == ["exec"] and "--" in argv and len(argv) > 2 and argv[1][:1] != "-":
        kind, rest = "exec", argv[2 : argv.index("--")]
    else:
        return None
    values: dict[str, str] = {}
    while rest:
        name, sep, value = rest[0].partition("=")
        if name not in _FAST_OPTIONS[kind] or name in values:
            return None
        if not sep:
            if len(rest) < 2:
                return None
            value, rest = rest[1], rest[2:]
        else:
            rest = rest[1:]
        values[name] = value
    if kind == "credentials":
        if "--app" not in values:
            return None
        from rolegate import credentials

        credentials.print_credential_process(
            values["--app"], values.get("--aws-role"), proxy=values.get("--proxy")
        )
        return ExitCode.OK
    from rolegate import exec_cli

    return exec_cli.run_exec(
        app=argv[1],
        role=values.get("--aws-role"),
        proxy=values.get("--proxy"),
        region=values.get("--region"),
        server=False,
        command=argv[argv.index("--") + 1 :],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every expected failure is one stderr line and a documented exit code."""
    try:
        arguments = list(sys.argv[1:] if argv is None else argv)
        code = _fast_path(arguments)
        if code is None:
            from rolegate.cli import run

            code = run(arguments)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # `rolegate apps ls | head`: the reader left; exit quietly as a pipe writer should.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except CliError as error:
        from rolegate.validate import escape

        print(f"rolegate: {escape(error.message)}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        print("rolegate: interrupted", file=sys.stderr)
        return 130
    except OSError as error:
        # Local files (home directory, AWS config) that cannot be read or written.
        where = f" {error.filename}" if error.filename else ""
        print(f"rolegate: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        return ExitCode.LOCAL_CONFIG


if __name__ == "__main__":
    sys.exit(main())
