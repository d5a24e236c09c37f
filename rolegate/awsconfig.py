"""Edit the AWS CLI config file: add, update and remove the `[profile APP]` sections rolegate owns.

configparser only *reads* (to refuse a malformed file before touching it); writes are text edits
of the owned section, so every other byte — comments, ordering, spacing, other tools' sections —
stays exactly as it was. A section is owned when it carries the MARKER comment; any other section
with the same name is left alone and the command fails.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from pathlib import Path

from rolegate.errors import CliError, ExitCode
from rolegate.validate import APP_NAME_RE, CONTROL_RE, escape, invalid, is_region

MARKER = "; Managed by rolegate (rolegate apps login/logout). Do not edit this section."
_MARKER_RE = re.compile(r"^\s*[;#]\s*Managed by rolegate\b")
_HEADER_RE = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]\s*(?:[;#].*)?$")
_KEY_RE = re.compile(r"^\s*([^=\s:;#][^=:]*?)\s*[=:]")


def config_path() -> Path:
    """`AWS_CONFIG_FILE`, or ~/.aws/config, as the AWS CLI and SDKs resolve it."""
    configured = os.environ.get("AWS_CONFIG_FILE", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".aws" / "config"


def quote_argument(value: str) -> str:
    """Quote one credential_process argument for botocore's shell-like split (no shell runs).

    AWS documents double quotes around an element with spaces; backslash and the double quote
    are escaped inside them, which shlex (botocore's POSIX splitter) undoes.
    """
    if value and re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def credential_process_line(command: list[str]) -> str:
    """`credential_process = …` for the argument vector `command`."""
    return "credential_process = " + " ".join(quote_argument(part) for part in command)


def check_app_name(app: str) -> None:
    """Refuse names that cannot be a profile section header or a safe argument (full match:
    `"myapp\\n"` is refused)."""
    if not APP_NAME_RE.fullmatch(app):
        raise CliError(
            f"app name {escape(app)!r} cannot be used as an AWS profile name "
            "(letters, digits and . _ @ + - only)",
            ExitCode.USAGE,
        )


@dataclass(frozen=True)
class _Section:
    """Where one section sits in the file, by line index."""

    name: str
    header: int
    end: int  # index of the next header, or len(lines)
    content_end: int  # one past the last key/continuation/marker line of the section
    managed: bool


def _normalize(name: str) -> str:
    return " ".join(name.split())


def _sections(lines: list[str]) -> list[_Section]:
    headers = [i for i, line in enumerate(lines) if _HEADER_RE.match(line)]
    found = []
    for position, start in enumerate(headers):
        end = headers[position + 1] if position + 1 < len(headers) else len(lines)
        match = _HEADER_RE.match(lines[start])
        assert match is not None
        managed = False
        content_end = start + 1
        for index in range(start + 1, end):
            text = lines[index].strip()
            if _MARKER_RE.match(lines[index]):
                managed = True
                content_end = index + 1
            elif text and text[0] not in ";#":
                # A key or an indented continuation belongs to this section; trailing comments
                # may describe the next section, so they are never counted as ours.
                content_end = index + 1
        found.append(_Section(_normalize(match.group(1)), start, end, content_end, managed))
    return found


class AwsConfig:
    """One AWS config file, loaded for editing; `save()` writes it back atomically."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as error:
            raise CliError(
                f"cannot read {self.path}: {error.strerror}", ExitCode.LOCAL_CONFIG
            ) from None
        try:
            self.original = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._malformed("it is not UTF-8 text") from None
        self._check_parses(self.original)
        self.newline = "\r\n" if "\r\n" in self.original else "\n"
        self.lines = self.original.splitlines(keepends=True)

    def _malformed(self, why: str) -> CliError:
        return CliError(
            f"{self.path} is not a valid AWS config file ({why}); fix it by hand. "
            "Nothing was changed.",
            ExitCode.LOCAL_CONFIG,
        )

    def _check_parses(self, text: str) -> None:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=str(self.path))
        except configparser.Error as error:
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise self._malformed(first_line) from None

    def _find(self, profile: str) -> _Section | None:
        matches = [s for s in _sections(self.lines) if s.name == f"profile {profile}"]
        if len(matches) > 1:
            raise self._malformed(f"[profile {profile}] appears {len(matches)} times")
        return matches[0] if matches else None

    def managed_profiles(self) -> list[str]:
        """Names of the profiles rolegate manages in this file."""
        return [
            s.name.removeprefix("profile ")
            for s in _sections(self.lines)
            if s.managed and s.name.startswith("profile ")
        ]

    def section_lines(self, profile: str) -> list[str]:
        """The lines of `[profile PROFILE]` after its header (empty when absent)."""
        section = self._find(profile)
        if section is None:
            return []
        return self.lines[section.header + 1 : section.content_end]

    def check_can_write(self, profile: str) -> None:
        """Raise unless `[profile PROFILE]` is absent or managed by rolegate."""
        section = self._find(profile)
        if section is not None and not section.managed:
            raise CliError(
                f"[profile {profile}] in {self.path} is not managed by rolegate; remove that "
                "section or rename it, then run the command again. Nothing was changed.",
                ExitCode.LOCAL_CONFIG,
            )

    def upsert(self, profile: str, command: list[str], region: str | None = None) -> None:
        """Write `[profile PROFILE]` with the marker and `credential_process = command`.

        ``region`` (the app's region) is added when the section has none, because services
        such as STS need one and a user's own `region =` line must win.
        """
        check_app_name(profile)
        # Defence in depth: callers validated these, but nothing reaches the file unchecked.
        if region is not None and not is_region(region):
            raise invalid(f"region {escape(region)[:80]!r} is not an AWS region")
        if any(CONTROL_RE.search(part) for part in command):
            raise invalid("the credential_process command contains a control character")
        self.check_can_write(profile)
        section = self._find(profile)
        nl = self.newline
        ours = [MARKER + nl, credential_process_line(command) + nl]
        has_region = section is not None and any(
            _key_of(line) == "region"
            for line in self.lines[section.header + 1 : section.content_end]
        )
        if region and not has_region:
            ours.append(f"region = {region}{nl}")
        if section is None:
            if self.lines and not self.lines[-1].endswith(("\n", "\r")):
                self.lines[-1] += nl
            if self.lines and self.lines[-1].strip():
                self.lines.append(nl)
            self.lines += [f"[profile {profile}]{nl}", *ours]
            return
        # Keep keys the user added to our section (region, output…); replace only our two lines.
        kept = [
            line
            for line in self.lines[section.header + 1 : section.content_end]
            if not _MARKER_RE.match(line) and _key_of(line) != "credential_process"
        ]
        body = ours + kept
        if body and not body[-1].endswith(("\n", "\r")):
            body[-1] += nl
        self.lines[section.header + 1 : section.content_end] = body

    def remove(self, profile: str) -> bool:
        """Delete a managed `[profile PROFILE]`; False when absent; error when not ours."""
        section = self._find(profile)
        if section is None:
            return False
        self.check_can_write(profile)
        start, stop = section.header, section.content_end
        # Also take one blank separator line, so repeated login/logout cycles do not leave a
        # growing run of empty lines behind.
        if stop < len(self.lines) and not self.lines[stop].strip():
            stop += 1
        elif start > 0 and not self.lines[start - 1].strip() and stop >= len(self.lines):
            start -= 1
        del self.lines[start:stop]
        return True

    def text(self) -> str:
        """The edited file content."""
        return "".join(self.lines)

    def check_only_managed_changed(self, content: str) -> None:
        """Refuse `content` unless every byte outside rolegate's managed sections is unchanged
        and the managed sections hold nothing but the marker, our keys, and keys the user had
        put there before."""
        before_lines = self.original.splitlines(keepends=True)
        after_lines = content.splitlines(keepends=True)
        before_sections = _sections(before_lines)
        after_sections = _sections(after_lines)
        if _outside_managed(before_lines, before_sections) != _outside_managed(
            after_lines, after_sections
        ):
            raise invalid(
                f"writing {self.path} would change more than rolegate's own section; "
                "nothing was changed"
            )
        kept = {
            line
            for section in before_sections
            if section.managed
            for line in before_lines[section.header + 1 : section.content_end]
        }
        for section in after_sections:
            if not section.managed:
                continue
            for line in after_lines[section.header + 1 : section.content_end]:
                key = _key_of(line)
                if _MARKER_RE.match(line) or key in ("credential_process", "region"):
                    continue
                if line in kept or not line.strip():
                    continue
                raise invalid(
                    f"writing {self.path} would add {escape(line.strip())[:80]!r} to "
                    f"[{section.name}]; nothing was changed"
                )

    def save(self) -> bool:
        """Write the file if it changed (atomically, keeping its mode); True if written.

        The new content must parse, and differ from the old only inside rolegate's managed
        sections; after the write the file is read back and compared.
        """
        import tempfile

        content = self.text()
        if content == self.original:
            return False
        self._check_parses(content)  # never write something we could not read back
        self.check_only_managed_changed(content)
        # Write through a symlink (dotfile managers link ~/.aws/config) instead of replacing it.
        target = self.path.resolve()
        directory = target.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
        # mkstemp: O_EXCL and an unpredictable name, so a planted symlink cannot take the write.
        descriptor, name = tempfile.mkstemp(
            prefix=f".{target.name}.rolegate-", suffix=".tmp", dir=directory
        )
        temporary = Path(name)
        try:
            os.fchmod(descriptor, mode)
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        written = target.read_bytes()
        if written != content.encode("utf-8"):
            raise CliError(
                f"{self.path} changed while rolegate wrote it (another program?); check it",
                ExitCode.LOCAL_CONFIG,
            )
        self.original = content
        return True


def _outside_managed(lines: list[str], sections: list[_Section]) -> str:
    """The file's text without its managed sections (header through content end)."""
    dropped: set[int] = set()
    for section in sections:
        if section.managed:
            dropped.update(range(section.header, section.content_end))
    return "".join(
        line.rstrip("\r\n") + "\n"
        for index, line in enumerate(lines)
        if index not in dropped
        if line.strip()
    )


def _key_of(line: str) -> str | None:
    if line[:1].isspace():
        return None  # a continuation line
    match = _KEY_RE.match(line)
    return match.group(1).strip() if match else None
