"""Entry point of the `rolegate` command.

Imports are deferred into the command handlers: `rolegate aws credentials` runs for every AWS
CLI call, and on a cache hit it must start almost as fast as a bare Python.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

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


_EXAMPLES = {
    "login": "rolegate login --proxy https://rolegate.example.com --sso\n"
    "  rolegate login --proxy https://staging.example.com --user alice < password.txt",
    "logout": "rolegate logout\n  rolegate logout --proxy https://staging.example.com\n"
    "  rolegate logout --all",
    "status": "rolegate status\n  rolegate status --format json",
    "apps ls": "rolegate apps ls\n  rolegate apps ls --format json | jq -r '.[].name'",
    "apps login": "rolegate apps login example-app\n"
    "  rolegate apps login example-app --aws-role ExampleReadOnlyAccess",
    "apps logout": "rolegate apps logout example-app\n  rolegate apps logout",
    "aws credentials": "rolegate aws credentials --app example-app --aws-role ReadOnly",
    "aws env": 'eval "$(rolegate aws env --app example-app)"',
    "aws serve": 'eval "$(rolegate aws serve example-app)" &\n'
    "  docker run -e AWS_CONTAINER_CREDENTIALS_FULL_URI -e AWS_CONTAINER_AUTHORIZATION_TOKEN …",
    "exec": "rolegate exec example-app -- aws sts get-caller-identity\n"
    "  rolegate exec example-app --server -- terraform plan",
    "console": "rolegate console example-app\n"
    "  rolegate console example-app --aws-role ReadOnly --destination /s3/home --url",
    "completion": 'eval "$(rolegate completion bash)"   # in ~/.bashrc\n'
    "  rolegate completion zsh > ~/.zfunc/_rolegate",
}


def _sub(commands: Any, name: str, text: str, key: str | None = None) -> argparse.ArgumentParser:
    example = _EXAMPLES.get(key or name, "")
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=text,
        description=text[:1].upper() + text[1:] + ".",
        epilog=f"example:\n  {example}" if example else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _proxy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--proxy",
        help="which portal's login to use (default: ROLEGATE_PROXY, else the last login)",
    )


def _role_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--aws-role",
        help="IAM role name or ARN (may be omitted when the app offers one role)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = _Parser(
        prog="rolegate",
        description="Sign in to Rolegate and use AWS roles from the AWS CLI, SDKs and Terraform.",
        epilog="example:\n  rolegate login --proxy https://rolegate.example.com\n"
        "  rolegate apps login example-app\n  aws --profile example-app s3 ls",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    login = _sub(commands, "login", "sign in (password, or device login in a browser)")
    login.add_argument("--proxy", help="Rolegate URL, e.g. https://rolegate.example.com")
    login.add_argument("--user", help="local username (password from stdin or a prompt)")
    login.add_argument("--sso", action="store_true", help="sign in through the browser")
    login.add_argument("--ca-file", default="", help="PEM bundle that signs the proxy's TLS cert")
    login.add_argument("--insecure", action="store_true", help="skip TLS verification (testing)")
    login.add_argument(
        "--insecure-http",
        action="store_true",
        help="allow plain http to a host that is not this machine (tokens travel unencrypted)",
    )
    login.add_argument("--no-browser", action="store_true", help="only print the device-login URL")
    logout = _sub(commands, "logout", "revoke the token and remove that portal's AWS profiles")
    _proxy_option(logout)
    logout.add_argument("--all", action="store_true", help="log out of every portal")
    status = _sub(commands, "status", "show each login: proxy, user, roles, traits and expiry")
    _proxy_option(status)
    status.add_argument("--format", choices=("text", "json"), default="text")

    apps = _sub(commands, "apps", "AWS apps").add_subparsers(
        dest="apps_command", metavar="COMMAND", parser_class=_Parser
    )
    apps.required = True
    apps_ls = _sub(apps, "ls", "list the AWS apps you can use", "apps ls")
    apps_ls.add_argument("--format", choices=("text", "json"), default="text")
    _proxy_option(apps_ls)
    apps_login = _sub(apps, "login", "write an AWS profile for an app and role", "apps login")
    _role_option(apps_login)
    _proxy_option(apps_login)
    apps_login.add_argument("--profile", help="AWS profile name (default: the app name)")
    apps_login.add_argument("app", help="app name (also the AWS profile name)")
    apps_logout = _sub(apps, "logout", "remove the AWS profile of an app (or all)", "apps logout")
    apps_logout.add_argument("app", nargs="?", help="app name; all apps when omitted")

    aws = _sub(commands, "aws", "credentials for AWS tools").add_subparsers(
        dest="aws_command", metavar="COMMAND", parser_class=_Parser
    )
    aws.required = True
    for name, text in (
        ("credentials", "print credential_process JSON (used by the AWS profile)"),
        ("env", "print export lines for tools that cannot use profiles"),
    ):
        sub = _sub(aws, name, text, f"aws {name}")
        sub.add_argument("--app", required=True)
        _role_option(sub)
        _proxy_option(sub)
        if name == "env":
            sub.add_argument("--region", help="AWS region (default: the app's)")
    serve = _sub(
        aws,
        "serve",
        "serve credentials on 127.0.0.1 (ECS container-credentials protocol)",
        "aws serve",
    )
    serve.add_argument("app", help="app name")
    _role_option(serve)
    _proxy_option(serve)
    serve.add_argument("--region", help="AWS region (default: the app's)")

    run_exec = _sub(commands, "exec", "run a command with an app's AWS credentials")
    run_exec.add_argument("app", help="app name")
    _role_option(run_exec)
    _proxy_option(run_exec)
    run_exec.add_argument("--region", help="AWS region (default: the app's)")
    run_exec.add_argument(
        "--server",
        action="store_true",
        help="hand the command a local credentials endpoint instead of keys (refreshes)",
    )
    # `--` ends rolegate's options (split off in `run`); a bare command needs no options.
    run_exec.add_argument("argv", nargs="*", metavar="-- COMMAND", help="the command to run")

    console = _sub(commands, "console", "open the AWS console as an app's role")
    console.add_argument("app", help="app name")
    _role_option(console)
    _proxy_option(console)
    console.add_argument("--region", help="console region (default: the app's)")
    console.add_argument("--destination", help="console path to land on, e.g. /s3/home")
    console.add_argument("--url", action="store_true", help="print the sign-in URL, do not open it")

    completion = _sub(commands, "completion", "print a shell completion script")
    completion.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    from rolegate import requests_cli

    requests_cli.add_parser(commands, _Parser)
    return parser


def _completion(shell: str) -> int:
    try:
        import shtab
    except ImportError:
        raise CliError(
            "completion needs the shtab package (pip install shtab)", ExitCode.ERROR
        ) from None
    print(shtab.complete(build_parser(), shell=shell))  # nosec B604 - a completion dialect, no shell
    return ExitCode.OK


def run(argv: Sequence[str]) -> int:
    """Parse `argv` and run the command; CliError propagates to `main`."""
    argv = list(argv)
    child: list[str] | None = None
    if argv[:1] == ["exec"] and "--" in argv:
        # Everything after `--` is the child's; options before it are rolegate's, in any order.
        child = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    args = build_parser().parse_args(argv)
    if args.command == "aws" and args.aws_command != "serve":
        from rolegate import credentials

        if args.aws_command == "credentials":
            credentials.print_credential_process(args.app, args.aws_role, proxy=args.proxy)
        else:
            credentials.print_env(args.app, args.aws_role, proxy=args.proxy, region=args.region)
        return ExitCode.OK
    if args.command in ("exec", "aws"):
        from rolegate import exec_cli

        if args.command == "aws":
            return exec_cli.serve(
                app=args.app, role=args.aws_role, proxy=args.proxy, region=args.region
            )
        return exec_cli.run_exec(
            app=args.app,
            role=args.aws_role,
            proxy=args.proxy,
            region=args.region,
            server=args.server,
            command=child if child is not None else list(args.argv),
        )
    if args.command == "completion":
        return _completion(args.shell)
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
            insecure_http=args.insecure_http,
            open_browser=not args.no_browser,
            stdin=sys.stdin,
        )
    if args.command == "logout":
        return commands.logout(proxy=args.proxy, everything=args.all)
    if args.command == "status":
        return commands.status(stdout=sys.stdout, proxy=args.proxy, output_format=args.format)
    if args.command == "console":
        return commands.console(
            app_name=args.app,
            aws_role=args.aws_role,
            proxy=args.proxy,
            region=args.region,
            destination=args.destination,
            print_url=args.url,
        )
    if args.apps_command == "ls":
        return commands.apps_ls(output_format=args.format, proxy=args.proxy)
    if args.apps_command == "login":
        return commands.apps_login(
            app_name=args.app, aws_role=args.aws_role, proxy=args.proxy, profile=args.profile
        )
    return commands.apps_logout(app_name=args.app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; every expected failure is one stderr line and a documented exit code."""
    try:
        code = run(sys.argv[1:] if argv is None else argv)
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
