"""The AWS config editor: owned sections only, every other byte preserved."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.compat import compat_shell_split
from botocore.configloader import raw_config_parse

from rolegate.awsconfig import MARKER, AwsConfig, credential_process_line
from rolegate.errors import CliError, ExitCode

COMMAND = ["/opt/bin/rolegate", "aws", "credentials", "--app", "dev", "--aws-role", "arn:x"]

EXISTING = """\
# my settings, keep me
[default]
region = eu-west-1   ; inline comment
output=json

[profile work]
credential_process = /usr/bin/other-tool --x
s3 =
  max_concurrent_requests = 20

; a comment about the next section
[sso-session corp]
sso_start_url = https://corp.example/start
"""


def _config(tmp_path: Path, text: str | bytes | None) -> AwsConfig:
    path = tmp_path / "config"
    if isinstance(text, str):
        path.write_text(text, newline="")
    elif isinstance(text, bytes):
        path.write_bytes(text)
    return AwsConfig(path)


def test_adding_a_profile_keeps_every_other_byte(tmp_path: Path) -> None:
    config = _config(tmp_path, EXISTING)
    config.upsert("dev", COMMAND)
    assert config.save()
    text = config.path.read_text()
    assert text.startswith(EXISTING)
    assert text[len(EXISTING) :] == (
        f"\n[profile dev]\n{MARKER}\n"
        "credential_process = /opt/bin/rolegate aws credentials --app dev --aws-role arn:x\n"
    )
    parsed = raw_config_parse(str(config.path))
    assert compat_shell_split(parsed["profile dev"]["credential_process"]) == COMMAND
    assert parsed["profile work"]["credential_process"] == "/usr/bin/other-tool --x"


def test_update_and_remove_round_trip_to_the_original(tmp_path: Path) -> None:
    config = _config(tmp_path, EXISTING)
    config.upsert("dev", COMMAND)
    config.save()
    again = AwsConfig(config.path)
    again.upsert("dev", [*COMMAND[:-1], "arn:y"])
    assert again.save()
    text = config.path.read_text()
    assert text.count("[profile dev]") == 1 and "arn:y" in text and "arn:x" not in text
    # The same command again changes nothing.
    same = AwsConfig(config.path)
    same.upsert("dev", [*COMMAND[:-1], "arn:y"])
    assert not same.save()
    removing = AwsConfig(config.path)
    assert removing.remove("dev")
    removing.save()
    assert config.path.read_text() == EXISTING


def test_a_managed_section_in_the_middle_keeps_its_neighbours(tmp_path: Path) -> None:
    text = EXISTING.replace(
        "; a comment about the next section",
        f"[profile dev]\n{MARKER}\ncredential_process = old\nregion = us-west-2\n\n"
        "; a comment about the next section",
    )
    config = _config(tmp_path, text)
    config.upsert("dev", COMMAND)
    config.save()
    updated = config.path.read_text()
    assert "credential_process = old" not in updated
    assert "region = us-west-2" in updated  # a key the user added is kept
    assert "; a comment about the next section\n[sso-session corp]" in updated
    removing = AwsConfig(config.path)
    removing.remove("dev")
    removing.save()
    assert removing.path.read_text() == EXISTING


def test_unmanaged_sections_are_refused_and_untouched(tmp_path: Path) -> None:
    config = _config(tmp_path, EXISTING)
    with pytest.raises(CliError) as refused:
        config.upsert("work", COMMAND)
    assert refused.value.code == ExitCode.LOCAL_CONFIG
    assert "not managed by rolegate" in refused.value.message
    with pytest.raises(CliError):
        config.remove("work")
    assert not config.save()
    assert config.path.read_text() == EXISTING
    assert config.managed_profiles() == []


@pytest.mark.parametrize(
    "broken",
    [
        "region = us-east-1\n[default]\n",  # a key before any section
        "[default\nregion = x\n",
        b"[default]\nregion = \xff\n",
        "[profile dev]\nx = 1\n[profile dev]\ny = 2\n",
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, broken: str | bytes) -> None:
    path = tmp_path / "config"
    if isinstance(broken, bytes):
        path.write_bytes(broken)
    else:
        path.write_text(broken)
    before = path.read_bytes()
    with pytest.raises(CliError) as refused:
        AwsConfig(path).upsert("dev", COMMAND)
    assert refused.value.code == ExitCode.LOCAL_CONFIG
    assert "is not a valid AWS config file" in refused.value.message
    assert path.read_bytes() == before


def test_crlf_files_and_files_without_a_final_newline(tmp_path: Path) -> None:
    config = _config(tmp_path, "[default]\r\nregion = x")
    config.upsert("dev", COMMAND)
    config.save()
    raw = config.path.read_bytes()
    assert raw.startswith(b"[default]\r\nregion = x\r\n\r\n[profile dev]\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_new_file_and_directory_are_private(tmp_path: Path) -> None:
    config = AwsConfig(tmp_path / "aws" / "config")
    config.upsert("dev", COMMAND)
    config.save()
    assert (config.path.stat().st_mode & 0o777) == 0o600
    assert (config.path.parent.stat().st_mode & 0o777) == 0o700
    existing = tmp_path / "shared"
    existing.write_text("[default]\n")
    existing.chmod(0o644)
    config = AwsConfig(existing)
    config.upsert("dev", COMMAND)
    config.save()
    assert (existing.stat().st_mode & 0o777) == 0o644


def test_symlinked_config_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles-config"
    target.write_text("[default]\n")
    link = tmp_path / "config"
    link.symlink_to(target)
    config = AwsConfig(link)
    config.upsert("dev", COMMAND)
    config.save()
    assert link.is_symlink() and "[profile dev]" in target.read_text()


@pytest.mark.parametrize(
    "argument", ["/Users/Jane Doe/bin/rolegate", 'we"ird', "back\\slash", "tab\there", ""]
)
def test_quoting_survives_botocores_split(argument: str) -> None:
    line = credential_process_line([argument, "aws", "credentials"])
    value = line.split(" = ", 1)[1]
    assert compat_shell_split(value) == [argument, "aws", "credentials"]


def test_region_is_written_once_and_a_users_region_wins(tmp_path: Path) -> None:
    config = _config(tmp_path, "")
    config.upsert("dev", COMMAND, region="eu-central-1")
    config.save()
    assert raw_config_parse(str(config.path))["profile dev"]["region"] == "eu-central-1"
    # A re-login keeps exactly one region line.
    again = AwsConfig(config.path)
    again.upsert("dev", COMMAND, region="eu-central-1")
    again.save()
    assert config.path.read_text().count("region =") == 1
    # The user's own region in our section is kept, ours is not added.
    edited = config.path.read_text().replace("region = eu-central-1", "region = us-west-2")
    config.path.write_text(edited)
    third = AwsConfig(config.path)
    third.upsert("dev", COMMAND, region="eu-central-1")
    third.save()
    parsed = raw_config_parse(str(config.path))["profile dev"]
    assert parsed["region"] == "us-west-2"
    assert config.path.read_text().count("region =") == 1
