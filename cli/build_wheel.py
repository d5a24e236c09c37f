"""Build the slim `rolegate-cli` wheel from this repository's rolegate/ and awsra/ sources.

Usage: python cli/build_wheel.py OUT_DIR [--no-build-isolation]

Stages cli/pyproject.toml, cli/README.md, the whole rolegate/ package and only the awsra/
modules the CLI imports (ARN parser, credential_process format, and what they need) into a
temporary directory, then runs `pip wheel` on it. The modules are the same files the server
distribution ships, so there is one CLI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AWSRA_MODULES = (
    "__init__.py",
    "arn.py",
    "partitions.py",
    "credential_process.py",
    "credentials.py",
    "errors.py",
)


def build(out: Path, extra: list[str]) -> Path:
    """Build the wheel into `out`; return its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging_name:
        staging = Path(staging_name)
        shutil.copy2(ROOT / "cli" / "pyproject.toml", staging / "pyproject.toml")
        shutil.copy2(ROOT / "cli" / "README.md", staging / "README.md")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / "rolegate", staging / "rolegate", ignore=ignore)
        (staging / "awsra").mkdir()
        for module in AWSRA_MODULES:
            shutil.copy2(ROOT / "awsra" / module, staging / "awsra" / module)
        subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--quiet",
                *extra,
                "--wheel-dir",
                str(out),
                str(staging),
            ],
            check=True,
        )
    wheels = sorted(out.glob("rolegate_cli-*.whl"))
    if not wheels:
        raise SystemExit("no rolegate_cli wheel was built")
    return wheels[-1]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    print(build(Path(sys.argv[1]), sys.argv[2:]))
