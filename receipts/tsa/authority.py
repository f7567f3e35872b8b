"""This workspace's own time-stamp authority: its key and certificate from the workspace, its
serial log in the ledger (docs/operations.md, "Running the time-stamp authority")."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from receipts.errors import WorkspaceError
from receipts.ledger.database import Database
from receipts.ledger.timestamp_models import TsaSerialRow
from receipts.pki.credentials import Credentials
from receipts.tsa.config import TSA_PASSPHRASE_ENV, tsa_cert_path, tsa_key_path, tsa_settings
from signing.certificates import load_certificates
from signing.errors import PassphraseError
from signing.timestamp_authority import RecordSerial, TimeStampAuthority
from signing.timestamps import TimeStampError

__all__ = ["has_authority", "load_authority", "serial_log", "shared_authority", "tsa_passphrase"]

_LOADED: dict[tuple[str, str], TimeStampAuthority] = {}


def has_authority(creds: Credentials) -> bool:
    """Whether the workspace holds a time-stamp authority's key and certificate."""
    ws = creds.workspace
    return tsa_key_path(ws).is_file() and tsa_cert_path(ws).is_file()


def tsa_passphrase(prompt: Callable[[str], str] | None, key_path: object) -> str:
    """The authority key's passphrase: ``RECEIPTS_TSA_PASSPHRASE``, else typed."""
    value = os.environ.get(TSA_PASSPHRASE_ENV)
    if value:
        return value
    if prompt is None:
        raise PassphraseError(f"no passphrase for the TSA key {key_path}: set {TSA_PASSPHRASE_ENV}")
    typed = prompt(f"Passphrase for the TSA key {key_path}")
    if not typed:
        raise PassphraseError(f"an empty passphrase was given for the TSA key {key_path}")
    return typed


def serial_log(db: Database) -> RecordSerial:
    """Records each serial in ``tsa_serials`` before it is used; a serial already there is
    refused by the primary key (on every back end, across worker processes)."""

    def record(serial: int, gen_time: datetime, imprint: bytes) -> bool:
        try:
            with Session(db.engine) as session, session.begin():
                session.add(
                    TsaSerialRow(serial=f"{serial:x}", gen_time=gen_time, imprint=imprint.hex())
                )
        except IntegrityError:
            return False
        return True

    return record


def load_authority(creds: Credentials, db: Database) -> TimeStampAuthority:
    """The workspace's authority, its key decrypted once (passphrase from the environment or
    typed), its serials logged in ``db``."""
    ws = creds.workspace
    if not has_authority(creds):
        raise WorkspaceError(
            f"{ws.home} runs no time-stamp authority: create one with 'receipts pki issue-tsa'"
        )
    key_path = tsa_key_path(ws)
    key = creds.load_key(key_path, lambda: tsa_passphrase(creds.prompt, key_path))
    try:
        return TimeStampAuthority(
            key,
            load_certificates(tsa_cert_path(ws)),
            policy=tsa_settings(ws).policy,
            record=serial_log(db),
        )
    except TimeStampError as exc:
        raise WorkspaceError(f"{tsa_cert_path(ws)}: {exc}") from None


def shared_authority(creds: Credentials, db: Database) -> TimeStampAuthority:
    """:func:`load_authority`, once per workspace and ledger in this process: the node's
    ``/tsa`` route and its imports share it (the key is decrypted once, not per request)."""
    key = (str(creds.workspace.home.resolve()), db.url)
    found = _LOADED.get(key)
    if found is None:
        found = _LOADED[key] = load_authority(creds, db)
    return found
