"""No secret leaves through logs, audit details, Celery messages, Redis or rendered pages.

One test runs the whole flow (a console launch, a CLI password sign-in and a CLI credential
issuance against the sandbox) with every logger at DEBUG, records the secrets that were really
generated (the CA private key and the CA encryption key, every leaf private key, the API
tokens, the AWS secret access keys and session tokens, the console sign-in tokens), then
searches every place an operator or attacker could read for each of them.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.test import Client

import awsra
from apps.authority import pki
from awsra import federation
from tests.security.conftest import World, body_of

pytestmark = pytest.mark.django_db


@dataclass
class Secrets:
    """The secret values generated during the test, as text needles to search for."""

    values: dict[str, set[str]] = field(default_factory=dict)
    generated: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, value: str | bytes, *, one_more: bool = True) -> None:
        """Remember one secret (bytes as hex and base64; text as is and URL-encoded)."""
        bucket = self.values.setdefault(kind, set())
        if one_more:
            self.generated[kind] = self.generated.get(kind, 0) + 1
        assert len(value) >= 16, f"a {kind} needle this short would match by chance"
        if isinstance(value, bytes):
            bucket.add(value.hex())
            bucket.add(base64.b64encode(value).decode())
            return
        # Also as it appears inside a URL or a form body (secrets hold '/', '+' and '=').
        bucket.update({value, quote(value, safe=""), quote_plus(value)})

    def add_private_key(self, kind: str, key: Any) -> None:
        """A private key: its PEM body, DER (hex and base64) and its private number."""
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.add(kind, der)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        # A line of the PEM body is enough to identify a leak, even of a re-wrapped key.
        self.add(kind, pem.splitlines()[2], one_more=False)
        numbers = key.private_numbers()
        secret_number = getattr(numbers, "private_value", None) or numbers.d
        self.add(kind, format(secret_number, "x"), one_more=False)
        self.add(kind, str(secret_number), one_more=False)

    def found_in(self, text: str) -> list[str]:
        """The kinds of secret that appear in `text`."""
        return sorted(
            kind
            for kind, needles in self.values.items()
            if any(needle and needle in text for needle in needles)
        )

    def count(self, kind: str) -> int:
        """How many secrets of one kind were generated."""
        return self.generated.get(kind, 0)

    def matches(self, text: str) -> dict[str, list[str]]:
        """Which needles of which kind appear in `text` (for failure messages)."""
        return {
            kind: [needle[:12] + "..." for needle in needles if needle in text]
            for kind, needles in self.values.items()
            if any(needle in text for needle in needles)
        }


@pytest.fixture
def secrets_seen(monkeypatch: pytest.MonkeyPatch) -> Secrets:
    """Spy on the functions that create secrets and record what they return.

    These wrappers only observe: each calls the real function and returns its result.
    """
    seen = Secrets()
    real_build_leaf = pki.build_leaf
    real_create_session = awsra.create_session
    real_signin_token = federation.get_signin_token

    def build_leaf(*args: Any, **kwargs: Any) -> Any:
        certificate, key = real_build_leaf(*args, **kwargs)
        seen.add_private_key("leaf private key", key)
        return certificate, key

    def create_session(*args: Any, **kwargs: Any) -> Any:
        credentials = real_create_session(*args, **kwargs)
        seen.add("AWS secret access key", credentials.secret_access_key)
        seen.add("AWS session token", credentials.session_token)
        return credentials

    def get_signin_token(*args: Any, **kwargs: Any) -> Any:
        token = real_signin_token(*args, **kwargs)
        seen.add("console sign-in token", token)
        return token

    monkeypatch.setattr(pki, "build_leaf", build_leaf)
    monkeypatch.setattr(awsra, "create_session", create_session)
    monkeypatch.setattr(federation, "get_signin_token", get_signin_token)
    return seen


def _ca_secrets(seen: Secrets) -> None:
    from apps.authority.keyring import configured_keks
    from apps.authority.selectors import active_ca
    from apps.authority.services.authorities import _signer_for

    authority = active_ca()
    assert authority is not None
    seen.add_private_key("CA private key", _signer_for(authority).private_key)
    for kek in configured_keks():
        seen.add("CA encryption key (derived)", kek.key)
    configured = settings.ROLEGATE_CA_ENCRYPTION_KEY
    if not configured and settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE:
        with open(settings.ROLEGATE_CA_ENCRYPTION_KEY_FILE, encoding="utf-8") as handle:
            configured = handle.read()
    for part in configured.split(","):
        if part.strip():
            seen.add("CA encryption key", part.strip())


@dataclass
class Flow:
    """What the full flow left behind."""

    published: list[dict[str, Any]]
    queue: str
    redis_url: str


def _run_flow(world: World, seen: Secrets) -> Flow:
    """Launch the console, sign in the CLI with a password, fetch credentials, enqueue tasks."""
    member = world.client("member")
    response = member.post(f"/apps/{world.app_name}/launch", {"role": world.role_arn})
    assert response.status_code == 302

    api = Client()
    login = api.post(
        "/api/v1/auth/password",
        {"username": "alice", "password": "correct horse battery", "client_name": "laptop"},
        content_type="application/json",
    )
    assert login.status_code == 200
    token = login.json()["token"]
    seen.add("API bearer token", token)
    seen.add("API bearer token", token.split("_", 2)[2])  # the random part alone
    issued = api.post(
        f"/api/v1/apps/{world.app_name}/credentials",
        {"role_arn": world.role_arn},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert issued.status_code == 200
    # The secrets the CLI received are the ones AWS (the sandbox) issued.
    assert issued.json()["SecretAccessKey"] in seen.values["AWS secret access key"]
    # A wrong password for a known user (the failure path logs and audits too).
    api.post(
        "/api/v1/auth/password",
        {"username": "alice", "password": token, "client_name": "x"},
        content_type="application/json",
    )
    _ca_secrets(seen)
    return _publish_every_task(world)


def _publish_every_task(world: World) -> Flow:
    """Send each Celery task to a private queue on Redis, capturing bodies as published."""
    from celery.signals import before_task_publish

    from apps.integrations.models import Integration
    from portal.celery import app

    published: list[dict[str, Any]] = []

    def capture(body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        published.append({"body": body, "headers": headers})

    redis_url = settings.REDIS_URL or "redis://127.0.0.1:6379/12"
    queue = f"security-secrets-{uuid.uuid4().hex[:8]}"
    integration = Integration.objects.get(name="aws-prod")
    before_task_publish.connect(capture, weak=False)
    try:
        with app.connection_for_write(redis_url) as connection:
            for name, args in (
                ("apps.integrations.tasks.sync_all_integrations", ()),
                ("apps.integrations.tasks.sync_integration", (integration.pk, "manual")),
                ("apps.audit.tasks.seal_audit_chain", ()),
                ("apps.access.tasks.expire_access_requests", ()),
            ):
                app.send_task(name, args=args, connection=connection, queue=queue)
    finally:
        before_task_publish.disconnect(capture)
    assert len(published) == 4
    return Flow(published=published, queue=queue, redis_url=redis_url)


def _redis_dump(url: str) -> Iterator[tuple[str, str]]:
    """Every key of the Redis database with its value as text."""
    client = redis.Redis.from_url(url)
    for raw_key in client.scan_iter(count=500):
        key = raw_key.decode(errors="replace")
        raw_kind: Any = client.type(raw_key)
        kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
        if kind == "string":
            value: Any = client.get(raw_key)
        elif kind == "list":
            value = client.lrange(raw_key, 0, -1)
        elif kind == "hash":
            value = client.hgetall(raw_key)
        elif kind == "set":
            value = client.smembers(raw_key)
        elif kind == "zset":
            value = client.zrange(raw_key, 0, -1)
        else:
            value = b""
        yield key, repr(value) + _decoded_messages(value)


def _decoded_messages(value: Any) -> str:
    """Celery messages keep their body base64-encoded: decode it so it is searched too."""
    items = value if isinstance(value, list) else [value]
    decoded = []
    for item in items:
        try:
            message = json.loads(item)
            decoded.append(base64.b64decode(message["body"]).decode(errors="replace"))
        except (TypeError, ValueError, KeyError):
            continue
    return "\n".join(decoded)


def test_no_secret_in_logs_audit_celery_redis_or_pages(
    world: World, secrets_seen: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    """The generated secrets appear nowhere an operator or attacker could read them."""
    from apps.audit.models import AuditEvent

    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug output too
    for name in ("urllib3", "botocore", "django", "celery", "kombu", "apps", "awsra"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    flow = _run_flow(world, secrets_seen)
    seen = secrets_seen
    # The spies saw the flow: a leaf per issuance, both issuances' AWS secrets.
    assert seen.count("leaf private key") == 2
    assert seen.count("AWS secret access key") == 2
    assert seen.count("console sign-in token") == 1
    assert seen.count("CA private key") and seen.count("CA encryption key")

    leaks: dict[str, list[str]] = {}

    def search(place: str, text: str) -> None:
        found = seen.found_in(text)
        if found:
            leaks[place] = found

    # DEBUG capture really worked: the HTTP client's own debug lines (URLs) are in there.
    assert any(r.name.startswith("urllib3") and r.levelno == logging.DEBUG for r in caplog.records)
    for record in caplog.records:
        # The sandbox plays AWS: its request log is AWS's, not Rolegate's.
        if not record.name.startswith("sandbox."):
            search(f"log record of {record.name}", record.getMessage())
    search("captured logs (exc_text)", "\n".join(str(r.exc_text or "") for r in caplog.records))
    for event in AuditEvent.objects.all():
        search(f"audit event {event.event_type}", json.dumps(event.details, default=str))
    search("celery publish bodies", json.dumps(flow.published, default=str))
    try:
        for key, value in _redis_dump(flow.redis_url):
            search(f"redis key {key}", value)
        queued = redis.Redis.from_url(flow.redis_url).lrange(flow.queue, 0, -1)
        assert len(queued) == 4, "the tasks were not queued in Redis"
    finally:
        redis.Redis.from_url(flow.redis_url).delete(flow.queue)

    staff = world.users["staff"]
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    pages = {
        "resources page": (world.client("member"), "/"),
        "launch dialog": (world.client("member"), f"/apps/{world.app_name}/launch"),
        "CLI tokens page": (world.client("member"), "/cli/tokens"),
        "audit log": (world.client("staff"), "/audit/"),
        "audit export": (world.client("staff"), "/audit/export.jsonl"),
    }
    for model in (
        "audit/auditevent",
        "authority/leafcertificate",
        "authority/certificateauthority",
        "api/apitoken",
        "accounts/user",
        "integrations/integration",
    ):
        pages[f"admin {model}"] = (world.client("staff"), f"/admin/{model}/")
    for event in AuditEvent.objects.order_by("-id")[:5]:
        pages[f"admin audit event {event.pk}"] = (
            world.client("staff"),
            f"/admin/audit/auditevent/{event.pk}/change/",
        )
    for authority in _authorities():
        pages[f"admin CA {authority}"] = (
            world.client("staff"),
            f"/admin/authority/certificateauthority/{authority}/change/",
        )
    for place, (client, path) in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (place, response.status_code)
        search(place, body_of(response))

    assert leaks == {}, f"secrets found: {leaks}"


def _authorities() -> list[int]:
    from apps.authority.models import CertificateAuthority

    return list(CertificateAuthority.objects.values_list("pk", flat=True))


def test_the_search_finds_a_planted_leak(
    world: World, secrets_seen: Secrets, caplog: pytest.LogCaptureFixture
) -> None:
    """The needles are real: a secret logged on purpose is found (so the test above can fail)."""
    caplog.set_level(logging.DEBUG)
    _run_flow(world, secrets_seen)
    secret = next(iter(secrets_seen.values["AWS secret access key"]))
    logging.getLogger("apps.planted").debug("oops %s", secret)
    leaf = next(iter(secrets_seen.values["leaf private key"]))
    logging.getLogger("apps.planted").debug("key %s", leaf)
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("sandbox."))
    found = secrets_seen.found_in(text)
    assert found == ["AWS secret access key", "leaf private key"], secrets_seen.matches(text)
