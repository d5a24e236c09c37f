"""Entry point of the `rolegate` command.

Imports are deferred into the command handlers: `rolegate aws credentials` runs for every AWS
CLI call, and on a cache hit it must start almost as fast as a bare Python.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rolegate.errors import CliError, ExitCode


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit with ExitCode.USAGE."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"rolegate: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(ExitCode.USAGE)


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from rolegate import version

        print(f"rolegate {version()}")
        raise SystemExit(ExitCode.OK)


def build_parser() -> argparse.ArgumentParser:
    """The command line: exactly the commands of the CLI contract."""
    parser = _Parser(
        prog="rolegate",
        description="Sign in to Rolegate and use AWS roles from the AWS CLI, SDKs and Terraform.",
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    login = commands.add_parser("login", help="sign in (password, or device login in a browser)")
    login.add_argument("--proxy", help="Rolegate URL, e.g. https://rolegate.example.com")
    login.add_argument("--user", help="local username (password from stdin or a prompt)")
    login.add_argument("--sso", action="store_true", help="sign in through the browser")
    login.add_argument("--ca-file", default="", help="PEM bundle that signs the proxy's TLS cert")
    login.add_argument("--insecure", action="store_true", help="skip TLS verification (testing)")
    login.add_argument("--no-browser", action="store_true", help="only print the device-login URL")
    commands.add_parser("logout", help="revoke the token and remove rolegate's AWS profiles")
    commands.add_parser("status", help="show the proxy, user, roles, traits and expiry")

    apps = commands.add_parser("apps", help="AWS apps").add_subparsers(
        dest="apps_command", metavar="COMMAND", parser_class=_Parser
    )
    apps.required = True
    apps_ls = apps.add_parser("ls", help="list the AWS apps you can use")
    apps_ls.add_argument("--format", choices=("text", "json"), default="text")
    apps_login = apps.add_parser("login", help="write an AWS profile for an app and role")
    apps_login.add_argument("--aws-role", required=True, help="IAM role ARN or role name")
    apps_login.add_argument("app", help="app name (also the AWS profile name)")
    apps_logout = apps.add_parser("logout", help="remove the AWS profile of an app (or all)")
    apps_logout.add_argument("app", nargs="?", help="app name; all apps when omitted")

    aws = commands.add_parser("aws", help="credentials for AWS tools").add_subparsers(
        dest="aws_command", metavar="COMMAND", parser_class=_Parser
    )
    aws.required = True
    for name, text in (
        ("credentials", "print credential_process JSON (used by the AWS profile)"),
        ("env", "print export lines for tools that cannot use profiles"),
    ):
        sub = aws.add_parser(name, help=text)
        sub.add_argument("--app", required=True)
        sub.add_argument("--aws-role", required=True, help="IAM role ARN")
    from rolegate import requests_cli

    requests_cli.add_parser(commands, _Parser)
    return parser


def run(argv: Sequence[str]) -> int:
    """Parse `argv` and run the command; CliError propagates to `main`."""
    args = build_parser().parse_args(argv)
    if args.command == "aws":
        from rolegate import credentials

        if args.aws_command == "credentials":
            credentials.print_credential_process(args.app, args.aws_role)
        else:
            credentials.print_env(args.app, args.aws_role)
        return ExitCode.OK

    if args.command == "request":
        from rolegate import requests_cli

        return requests_cli.run(args)

    from rolegate import commands

    if args.command == "login":
        return commands.login(
            proxy=args.proxy,
            user=args.user,
            sso=args.sso,
            ca_file=args.ca_file,
            insecure=args.insecure,
            open_browser=not args.no_browser,
            stdin=sys.stdin,
        )
    if args.command == "logout":
        return commands.logout()
    if args.command == "status":
        return commands.status(stdout=sys.stdout)
    if args.apps_command == "ls":
        return commands.apps_ls(output_format=args.format)
    if args.apps_command == "login":
        return commands.apps_login(app_name=args.app, aws_role=args.aws_role)
    return commands.apps_logout(app_name=args.app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every expected failure is one stderr line and a documented exit code."""
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except CliError as error:
        print(f"rolegate: {error.message}", file=sys.stderr)
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
