"""Signed checkpoints of the audit chain, written out of the database.

A checkpoint records the chain's head (link id, link hash, number of links) and the time, signed
with the audit key. Beat writes one on a schedule to the log stream and to the configured sinks
(``ROLEGATE_AUDIT_CHECKPOINT_FILE``, a JSON Lines file appended to;
``ROLEGATE_AUDIT_CHECKPOINT_URL``, which receives each checkpoint as a JSON POST).
``audit_verify`` compares the chain with the last one, so a chain cut short or rebuilt is
reported even though every remaining link is valid.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from apps.audit.chain import ChainHead, ChainReport, chain_head, unsealed_backlog
from apps.audit.keys import AuditKeyring, audit_keyring

log = logging.getLogger("rolegate.audit.checkpoint")

SINK_TIMEOUT_SECONDS = 5
# Events older than this and still unsealed mean the sealer is behind: said loudly.
SEAL_LAG_SECONDS = 120


class CheckpointError(Exception):
    """A checkpoint that cannot be read or whose signature does not hold."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, signed with an audit key."""

    head_link_id: int
    head_hash: str
    links: int
    time: str
    key_id: str
    signature: str = ""

    def payload(self) -> bytes:
        """The signed bytes: every field except the signature, canonical JSON."""
        fields = asdict(self)
        fields.pop("signature")
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def _sign(checkpoint: Checkpoint, key: bytes) -> str:
    return hmac.new(key, b"rolegate-audit-checkpoint:" + checkpoint.payload(), "sha256").hexdigest()


def checkpoint_create(*, keyring: AuditKeyring | None = None) -> Checkpoint:
    """A signed checkpoint of the chain as it is now (an empty chain: head 0, 0 links)."""
    keyring = keyring or audit_keyring()
    head = chain_head() or ChainHead(link_id=0, chain_hash="0" * 64, position=0)
    unsigned = Checkpoint(
        head_link_id=head.link_id,
        head_hash=head.chain_hash,
        links=head.position,
        time=timezone.now().isoformat(timespec="seconds"),
        key_id=keyring.signing_id,
    )
    return Checkpoint(**{**asdict(unsigned), "signature": _sign(unsigned, keyring.signing_key)})


def checkpoint_parse(text: str, *, keyring: AuditKeyring | None = None) -> Checkpoint:
    """Read one checkpoint line and check its signature; raises CheckpointError."""
    keyring = keyring or audit_keyring()
    try:
        data: Any = json.loads(text)
        checkpoint = Checkpoint(
            head_link_id=int(data["head_link_id"]),
            head_hash=str(data["head_hash"]),
            links=int(data["links"]),
            time=str(data["time"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )
    except (ValueError, TypeError, KeyError):
        raise CheckpointError("the checkpoint is not a checkpoint JSON object") from None
    key = keyring.keys.get(checkpoint.key_id)
    if key is None:
        raise CheckpointError(f"the checkpoint is signed with unknown key id {checkpoint.key_id!r}")
    if not hmac.compare_digest(_sign(checkpoint, key), checkpoint.signature):
        raise CheckpointError("the checkpoint's signature does not match (forged or altered)")
    return checkpoint


def checkpoint_load_last(path: str | Path, *, keyring: AuditKeyring | None = None) -> Checkpoint:
    """The last checkpoint of a JSON Lines file (a file sink, or lines copied from the log)."""
    try:
        lines = [line for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoints from {path}: {error.strerror}") from None
    if not lines:
        raise CheckpointError(f"{path} holds no checkpoint")
    text = lines[-1].strip()
    # Lines copied from the log stream carry the logger's prefix before the JSON.
    return checkpoint_parse(text[text.find("{") :], keyring=keyring)


def checkpoint_compare(report: ChainReport, checkpoint: Checkpoint) -> str:
    """Why a verified chain does not match the checkpoint, or ""."""
    if checkpoint.links == 0:
        return ""
    head = report.head
    if head is None or head.position < checkpoint.links:
        return (
            f"the chain has {report.links_checked} link(s) but the checkpoint of "
            f"{checkpoint.time} recorded {checkpoint.links}: events were removed from the tail"
        )
    if not _head_matches(checkpoint):
        return (
            f"the chain does not match the checkpoint of {checkpoint.time}: link "
            f"{checkpoint.head_link_id} is not the head it recorded (the chain was rebuilt)"
        )
    return ""


def _head_matches(checkpoint: Checkpoint) -> bool:
    from apps.audit.models import AuditChainLink

    link = AuditChainLink.objects.filter(id=checkpoint.head_link_id).first()
    if link is None or not hmac.compare_digest(link.chain_hash, checkpoint.head_hash):
        return False
    position = AuditChainLink.objects.filter(id__lte=link.id).count()
    return position == checkpoint.links


def _append(path: str, line: str) -> None:
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint_write() -> Checkpoint:
    """Create a checkpoint and write it to the log stream and every configured sink.

    A sink that fails is logged as an error and the others are still written; the log line
    always is.
    """
    backlog, oldest = unsealed_backlog(older_than_seconds=SEAL_LAG_SECONDS)
    if backlog:
        log.error(
            "audit sealer is behind: %d event(s) unsealed for more than %d s (oldest %s)",
            backlog,
            SEAL_LAG_SECONDS,
            oldest.isoformat() if oldest else "?",
        )
    checkpoint = checkpoint_create()
    line = checkpoint.to_json()
    log.info("audit checkpoint %s", line)
    path = str(getattr(settings, "ROLEGATE_AUDIT_CHECKPOINT_FILE", "") or "")
    if path:
        try:
            _append(path, line)
        except OSError as error:
            log.error("audit checkpoint file %s not written: %s", path, error.strerror)
    url = str(getattr(settings, "ROLEGATE_AUDIT_CHECKPOINT_URL", "") or "")
    if url:
        try:
            response = requests.post(
                url,
                data=line,
                headers={"Content-Type": "application/json"},
                timeout=SINK_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
        except requests.RequestException as error:
            log.error("audit checkpoint not delivered to %s: %s", url, type(error).__name__)
    return checkpoint
