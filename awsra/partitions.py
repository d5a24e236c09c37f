"""AWS partitions Rolegate supports: endpoints, sign-in (federation) URLs and console URLs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

__all__ = [
    "PARTITIONS",
    "REGION_RE",
    "SIGNIN_URL_ENV",
    "Partition",
    "console_destination",
    "federation_endpoint",
    "get_partition",
    "partition_for_region",
    "validate_region",
]

SIGNIN_URL_ENV = "ROLEGATE_AWS_SIGNIN_URL"

# Commercial, GovCloud and China region names ("us-east-1", "us-gov-west-1", "cn-north-1").
REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\Z", re.ASCII)

# ISO partitions need their own endpoints and sign-in hosts that Rolegate does not know about;
# refusing them beats silently sending credentials to the commercial partition.
_UNSUPPORTED_REGION_PREFIXES = ("us-iso-", "us-isob-", "eu-isoe-", "us-isof-")


@dataclass(frozen=True)
class Partition:
    """One AWS partition: the DNS suffix and the sign-in and console base URLs."""

    name: str
    dns_suffix: str
    signin_url: str
    console_url: str

    def rolesanywhere_endpoint(self, region: str, *, fips: bool = False) -> str:
        """Return the regional Roles Anywhere endpoint URL (https) for `region`; with `fips`,
        the FIPS endpoint the SDKs use (`rolesanywhere-fips.REGION.DNS_SUFFIX`)."""
        validate_region(region)
        if partition_for_region(region).name != self.name:
            raise ValueError(f"region {region!r} is not in partition {self.name!r}")
        service = "rolesanywhere-fips" if fips else "rolesanywhere"
        return f"https://{service}.{region}.{self.dns_suffix}"

    def console_host(self, region: str | None = None) -> str:
        """Return the console base URL (no trailing slash), region-specific where AWS has one."""
        if region is not None and self.name == "aws":
            return f"https://{region}.console.aws.amazon.com"
        return self.console_url.rstrip("/")


PARTITIONS: dict[str, Partition] = {
    "aws": Partition(
        name="aws",
        dns_suffix="amazonaws.com",
        signin_url="https://signin.aws.amazon.com/federation",
        console_url="https://console.aws.amazon.com/",
    ),
    "aws-us-gov": Partition(
        name="aws-us-gov",
        dns_suffix="amazonaws.com",
        signin_url="https://signin.amazonaws-us-gov.com/federation",
        console_url="https://console.amazonaws-us-gov.com/",
    ),
    "aws-cn": Partition(
        name="aws-cn",
        dns_suffix="amazonaws.com.cn",
        signin_url="https://signin.amazonaws.cn/federation",
        console_url="https://console.amazonaws.cn/",
    ),
}


def validate_region(region: str) -> str:
    """Return `region` if it is a well-formed, supported region name, else raise ValueError."""
    if not isinstance(region, str) or not REGION_RE.match(region):
        raise ValueError(f"invalid AWS region {region!r} (expected e.g. 'us-east-1')")
    if region.startswith(_UNSUPPORTED_REGION_PREFIXES):
        raise ValueError(f"region {region!r} is in an AWS partition Rolegate does not support")
    return region


def get_partition(name: str) -> Partition:
    """Return the partition called `name` ("aws", "aws-us-gov" or "aws-cn")."""
    try:
        return PARTITIONS[name]
    except (KeyError, TypeError):
        known = ", ".join(PARTITIONS)
        raise ValueError(f"unknown AWS partition {name!r} (known: {known})") from None


def partition_for_region(region: str) -> Partition:
    """Return the partition that contains `region`."""
    validate_region(region)
    if region.startswith("us-gov-"):
        return PARTITIONS["aws-us-gov"]
    if region.startswith("cn-"):
        return PARTITIONS["aws-cn"]
    return PARTITIONS["aws"]


def federation_endpoint(partition_name: str, environ: Mapping[str, str] | None = None) -> str:
    """Return the federation sign-in URL: `ROLEGATE_AWS_SIGNIN_URL` if set, else the partition's.

    An override given as a bare base URL (no path, as the sandbox's "http://127.0.0.1:4566")
    gets "/federation" appended; one with a path is used as it is.
    """
    env = os.environ if environ is None else environ
    partition = get_partition(partition_name)
    override = env.get(SIGNIN_URL_ENV, "").strip()
    if not override:
        return partition.signin_url
    parts = urlsplit(override)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{SIGNIN_URL_ENV} must be an http(s) URL, got {override!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{SIGNIN_URL_ENV} must not have a query or fragment: {override!r}")
    if parts.path in ("", "/"):
        return f"{parts.scheme}://{parts.netloc}/federation"
    return override


def _check_console_path(path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"console path must start with a single '/': {path!r}")
    if "\\" in path:
        raise ValueError(f"console path must not contain a backslash: {path!r}")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in path):
        raise ValueError(f"console path must not contain spaces or control characters: {path!r}")
    if not path.isascii():
        raise ValueError(f"console path must be ASCII: {path!r}")
    # A path is joined to a fixed console host; "/x://y" is harmless there but a scheme-looking
    # path is always a mistake (someone passed a full URL), so refuse it plainly.
    if "://" in path.split("?", 1)[0]:
        raise ValueError(f"console path must not contain a URL scheme: {path!r}")


def console_destination(
    partition: str | Partition, region: str | None = None, path: str | None = None
) -> str:
    """Return a console URL in `partition`, optionally region-specific, at `path` (a console path).

    The result always stays on the partition's console host: `path` must start with one "/"
    (not "//"), and contain no scheme, backslash, whitespace or control character.
    """
    part = partition if isinstance(partition, Partition) else get_partition(partition)
    if region is not None:
        validate_region(region)
        if partition_for_region(region).name != part.name:
            raise ValueError(f"region {region!r} is not in partition {part.name!r}")
    if path is None:
        if region is None:
            return part.console_url
        return f"{part.console_host(region)}/console/home?region={quote(region)}"
    _check_console_path(path)
    before_fragment, hash_sign, fragment = path.partition("#")
    url = part.console_host(region) + before_fragment
    if region is not None and "region=" not in before_fragment.partition("?")[2]:
        url += ("&" if "?" in before_fragment else "?") + f"region={quote(region)}"
    return url + hash_sign + fragment
