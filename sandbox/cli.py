"""`python -m sandbox`: run the offline AWS until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .seed import CREDENTIALS_PROFILE, create_operator, write_credentials_file
from .server import DEFAULT_HOST, DEFAULT_PORT, SEEDS, Sandbox

DEFAULT_CREDENTIALS_FILE = "var/sandbox/credentials"


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Offline AWS (IAM, STS, S3, Roles Anywhere, console sign-in) on one URL.",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--seed", choices=SEEDS, default=None, help="load a scenario")
    parser.add_argument(
        "--credentials-file",
        default=DEFAULT_CREDENTIALS_FILE,
        help=f"AWS shared-credentials file for the operator (default {DEFAULT_CREDENTIALS_FILE})",
    )
    parser.add_argument(
        "--state-file",
        default=None,
        help="keep the AWS state in this file: start from it when it exists (instead of the "
        "seed) and save every change to it",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, stop_event: threading.Event | None = None) -> int:
    """Start the sandbox, print its URL and operator credentials, serve until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"error: --port must be 0-65535, not {args.port}", file=sys.stderr)
        return 2
    sandbox = Sandbox(host=args.host, port=args.port, seed=args.seed, state_file=args.state_file)
    try:
        sandbox.start()
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    stop = stop_event or threading.Event()
    try:
        operator = sandbox.seeded.get("operator") or create_operator()
        path = write_credentials_file(args.credentials_file, operator)
        print(f"Sandbox AWS endpoint: {sandbox.url}")
        if args.state_file:
            origin = "restored from" if sandbox.restored else "saved to"
            print(f"State {origin} {args.state_file}")
        print(f"Account: {sandbox.seeded.get('account_id', '123456789012')}")
        print(f"Operator access key id: {operator.access_key_id}")
        print(f"Operator secret access key: {operator.secret_access_key}")
        print(f"Credentials written to {path} (profile {CREDENTIALS_PROFILE})")
        for key in ("role_arn", "profile_arn", "bucket"):
            if key in sandbox.seeded:
                print(f"{key}: {sandbox.seeded[key]}")
        print(
            f"Try: AWS_SHARED_CREDENTIALS_FILE={path} AWS_PROFILE={CREDENTIALS_PROFILE} "
            f"AWS_ENDPOINT_URL={sandbox.url} AWS_DEFAULT_REGION=us-east-1 "
            "aws sts get-caller-identity",
            flush=True,
        )
        if stop_event is None:

            def _stop(signum: int, frame: FrameType | None) -> None:
                stop.set()

            signal.signal(signal.SIGINT, _stop)
            signal.signal(signal.SIGTERM, _stop)
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0
