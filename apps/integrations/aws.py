"""Talking to AWS as Rolegate: sign in with a 1-minute certificate, then call the control plane.

The control plane (ListProfiles, ListTagsForResource, ImportCrl, UpdateCrl, ListCrls) goes
through boto3 with the CreateSession credentials, the endpoint resolved the same way as for
CreateSession (`AWS_ENDPOINT_URL_ROLESANYWHERE`, then `AWS_ENDPOINT_URL`), adaptive retries on
throttling, and a client-side pacer that keeps each quota family at its configured rate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from django.conf import settings
from django.db import transaction

import awsra
from apps.audit import events
from apps.core.identity import SystemActor
from awsra.client import resolve_endpoint
from awsra.errors import (
    AwsError,
    AwsTimeoutError,
    ServerError,
    error_from_response,
)

if TYPE_CHECKING:
    from mypy_boto3_rolesanywhere.client import IAMRolesAnywhereClient

log = logging.getLogger(__name__)

SYNC_SUBJECT_CN = "rolegate-profile-sync"
SYNC_ACTOR = "profile-sync"
SYNC_CERTIFICATE_TTL = timedelta(minutes=1)
CRL_NAME = "rolegate"

# Roles Anywhere quota families (per account and region): 1 TPS each by default.
FAMILY_PROFILES = "profiles"
FAMILY_TAGS = "tags"
FAMILY_CRLS = "crls"


class Pacer:
    """Spaces calls at most `rate` per second (burst of one); `rate <= 0` disables pacing."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self) -> float:
        """Block until the next call may go; return the seconds waited."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return delay


_pacers: dict[tuple[str, ...], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(partition: str, account_id: str, region: str, family: str) -> Pacer:
    """The process-wide pacer of one quota family (AWS counts quotas per account and region)."""
    rate = float(settings.ROLEGATE_PROFILE_SYNC_RATE)
    key = (partition, account_id, region, family)
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None or pacer.rate != rate:
            pacer = _pacers[key] = Pacer(rate)
        return pacer


# -- errors ------------------------------------------------------------------------------


def aws_error_from_boto(operation: str, error: Exception) -> AwsError:
    """Map a botocore exception to the typed awsra errors (transient ones are retryable)."""
    if isinstance(error, AwsError):
        return error
    if isinstance(error, ClientError):
        response: Any = error.response
        details = response.get("Error", {})
        metadata = response.get("ResponseMetadata", {})
        status = int(metadata.get("HTTPStatusCode") or 0)
        code = str(details.get("Code") or f"HTTP{status}")
        message = str(details.get("Message") or "")
        headers = {"X-Amzn-ErrorType": code}
        typed = error_from_response(status, headers, b"")
        return type(typed)(code, f"{operation}: {message}".rstrip(": "), status)
    if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
        return AwsTimeoutError("Timeout", f"{operation}: no answer in time ({error})")
    if isinstance(error, EndpointConnectionError | BotoConnectionError):
        return ServerError("ConnectionError", f"{operation}: {error}")
    if isinstance(error, BotoCoreError):
        return AwsError(type(error).__name__, f"{operation}: {error}")
    return AwsError(type(error).__name__, f"{operation}: {error}")


# -- validating listings ----------------------------------------------------------------------

MAX_LISTING_PAGES = 10_000


class DamagedListingError(AwsError):
    """A ListProfiles answer that is not a well-formed page; nothing may be concluded from it."""

    def __init__(self, message: str) -> None:
        super().__init__("DamagedListing", message)


def check_profile_page(page: object, page_number: int) -> list[dict[str, Any]]:
    """Return the page's profiles, or raise DamagedListingError naming what is malformed."""
    where = f"ListProfiles page {page_number}"
    if not isinstance(page, dict):
        raise DamagedListingError(f"{where} is not a JSON object")
    if "profiles" not in page:
        raise DamagedListingError(
            f"{where} has no 'profiles' list (the body was cut short, was not JSON, or came "
            "from something other than Roles Anywhere)"
        )
    profiles = page["profiles"]
    if not isinstance(profiles, list) or not all(isinstance(p, dict) for p in profiles):
        raise DamagedListingError(f"{where}: 'profiles' is not a list of objects")
    token = page.get("nextToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise DamagedListingError(f"{where}: nextToken {token!r} is not a non-empty string")
    return list(profiles)


# -- signing in as Rolegate ----------------------------------------------------------------


@dataclass(frozen=True)
class SyncTarget:
    """Where and as whom the sync signs in (taken from an integration)."""

    integration_name: str
    trust_anchor_arn: str
    profile_arn: str
    role_arn: str
    accepts_role_session_name: bool
    partition: str
    region: str
    account_id: str


def sign_in_as_rolegate(target: SyncTarget) -> awsra.Credentials:
    """Issue a 1-minute certificate (CN `rolegate-profile-sync`) and exchange it with
    CreateSession for credentials of the sync role."""
    from apps.audit.services import audit_record
    from apps.authority.services import certificate_issue

    with transaction.atomic():
        issued = certificate_issue(
            subject_cn=SYNC_SUBJECT_CN,
            purpose="profile-sync",
            ttl=SYNC_CERTIFICATE_TTL,
            actor=SystemActor(SYNC_ACTOR),
        )
        # The authority leaves auditing each leaf to the caller; no event, no certificate.
        audit_record(
            event_type=events.INTEGRATION_SYNC_CERTIFICATE_ISSUED,
            actor=SystemActor(SYNC_ACTOR),
            target_kind="integration",
            target_name=target.integration_name,
            details={
                "serial": issued.serial_hex,
                "subject_cn": SYNC_SUBJECT_CN,
                "profile_arn": target.profile_arn,
                "role_arn": target.role_arn,
                "not_after": issued.not_after,
            },
        )
    return awsra.create_session(
        certificate=issued.certificate,
        private_key=issued.private_key,
        chain=issued.chain or (),
        trust_anchor_arn=target.trust_anchor_arn,
        profile_arn=target.profile_arn,
        role_arn=target.role_arn,
        role_session_name=SYNC_SUBJECT_CN if target.accepts_role_session_name else None,
        timeout=float(settings.ROLEGATE_PROFILE_SYNC_TIMEOUT),
    )


class _ShortLivedRefreshableCredentials(RefreshableCredentials):
    """Refresh shortly before expiry: CreateSession credentials may live only 15 minutes,
    which is under botocore's default 15-minute advisory window (it would refresh every call)."""

    _advisory_refresh_timeout = 120
    _mandatory_refresh_timeout = 60


def _credential_metadata(credentials: awsra.Credentials) -> dict[str, str]:
    return {
        "access_key": credentials.access_key_id,
        "secret_key": credentials.secret_access_key,
        "token": credentials.session_token,
        "expiry_time": credentials.expiration.astimezone(UTC).isoformat(),
    }


_boto_lock = threading.Lock()


def _client_config() -> Config:
    timeout = float(settings.ROLEGATE_PROFILE_SYNC_TIMEOUT)
    return Config(
        retries={
            "mode": "adaptive",
            "total_max_attempts": int(settings.ROLEGATE_PROFILE_SYNC_MAX_ATTEMPTS),
        },
        connect_timeout=timeout,
        read_timeout=timeout,
        max_pool_connections=4,
    )


@dataclass
class ControlPlane:
    """A paced Roles Anywhere control-plane client for one integration's account and region."""

    target: SyncTarget
    client: IAMRolesAnywhereClient
    calls: int = 0
    waited: float = 0.0
    _pacers: dict[str, Pacer] = field(default_factory=dict)
    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _call(
        self, family: str, operation: str, function: Callable[..., Any], **kwargs: Any
    ) -> Any:
        pacer = self._pacers.get(family)
        if pacer is None:
            pacer = self._pacers[family] = pacer_for(
                self.target.partition, self.target.account_id, self.target.region, family
            )
        waited = pacer.wait()
        with self._count_lock:  # tag reads run in a small pool (services/listing.py)
            self.waited += waited
            self.calls += 1
        try:
            return function(**kwargs)
        except Exception as error:  # botocore raises many unrelated classes; map them all
            raise aws_error_from_boto(operation, error) from error

    def list_profile_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Yield each ListProfiles page (follows nextToken to the end).

        Raises `DamagedListingError` for a page that does not prove itself well formed: botocore
        turns a 200 body it cannot parse (cut short, an HTML page from a proxy) into a dict
        without `profiles`, which read as "an empty last page" would delete every app.
        """
        token: str | None = None
        seen_tokens: set[str] = set()
        for page_number in range(1, MAX_LISTING_PAGES + 1):
            kwargs: dict[str, Any] = {"nextToken": token} if token else {}
            page = self._call(FAMILY_PROFILES, "ListProfiles", self.client.list_profiles, **kwargs)
            yield check_profile_page(page, page_number)
            token = page.get("nextToken")
            if token is None:
                return
            if token in seen_tokens:
                raise DamagedListingError(
                    f"ListProfiles page {page_number} repeats an earlier nextToken "
                    "(the pagination chain loops)"
                )
            seen_tokens.add(token)
        raise DamagedListingError(
            f"ListProfiles returned more than {MAX_LISTING_PAGES} pages; the chain looks endless"
        )

    def list_tags(self, resource_arn: str) -> dict[str, str]:
        """Return a resource's tags as a dict (ListTagsForResource is a single page)."""
        answer = self._call(
            FAMILY_TAGS,
            "ListTagsForResource",
            self.client.list_tags_for_resource,
            resourceArn=resource_arn,
        )
        return {str(tag["key"]): str(tag.get("value", "")) for tag in answer.get("tags") or []}

    def list_crls(self) -> list[dict[str, Any]]:
        """Return every CRL in the account and region."""
        result: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"nextToken": token} if token else {}
            page = self._call(FAMILY_CRLS, "ListCrls", self.client.list_crls, **kwargs)
            result.extend(page.get("crls") or [])
            token = page.get("nextToken") or None
            if not token:
                return result

    def import_crl(self, *, name: str, data: bytes, trust_anchor_arn: str) -> dict[str, Any]:
        """ImportCrl (enabled), returning the CrlDetail."""
        answer = self._call(
            FAMILY_CRLS,
            "ImportCrl",
            self.client.import_crl,
            name=name,
            crlData=data,
            trustAnchorArn=trust_anchor_arn,
            enabled=True,
        )
        return dict(answer["crl"])

    def update_crl(self, *, crl_id: str, data: bytes) -> dict[str, Any]:
        """UpdateCrl with new data, returning the CrlDetail."""
        answer = self._call(
            FAMILY_CRLS, "UpdateCrl", self.client.update_crl, crlId=crl_id, crlData=data
        )
        return dict(answer["crl"])


def control_plane_for(
    target: SyncTarget, sign_in: Callable[[SyncTarget], awsra.Credentials] = sign_in_as_rolegate
) -> ControlPlane:
    """Sign in as Rolegate and return a paced control-plane client; credentials refresh
    themselves (a fresh certificate and CreateSession) shortly before they expire."""
    first = sign_in(target)

    def refresh() -> dict[str, str]:
        log.info(
            "refreshing the profile-sync credentials of integration %s", target.integration_name
        )
        return _credential_metadata(sign_in(target))

    credentials = _ShortLivedRefreshableCredentials.create_from_metadata(
        metadata=_credential_metadata(first),
        refresh_using=refresh,
        method="rolegate-roles-anywhere",
    )
    endpoint = resolve_endpoint(target.region, target.partition)
    with _boto_lock:
        # botocore sessions are not thread-safe to build clients from; clients themselves are.
        core = botocore.session.get_session()
        # botocore has no public setter for refreshable credentials; boto3 users set this.
        core._credentials = credentials  # type: ignore[attr-defined]
        session = boto3.session.Session(botocore_session=core, region_name=target.region)
        client = session.client("rolesanywhere", endpoint_url=endpoint, config=_client_config())
    return ControlPlane(target=target, client=client)
