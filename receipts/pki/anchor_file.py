"""The ledger's anchor file in the workspace folder (``docs/security.md``):

    ledger-anchor.json    the ledger's facts (event count and head hash, the highest number taken
                          per receipt code, the last event the tier above acknowledged), signed
                          by the workspace's signing key or ledger key

The facts and their comparison are :mod:`receipts.ledger.anchor`; this module keeps them in the
file and trusts a file only when one of the workspace's own certificates
(:mod:`receipts.pki.own_certificates`) signed it. The file moves forward only: writers that
commit side by side write it under a lock, and a writer whose facts are older than the file's
leaves it alone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from receipts.domain.signed_documents import chain_validator
from receipts.errors import ReceiptError, WorkspaceError
from receipts.ledger.anchor import (
    LedgerFacts,
    SignedAnchor,
    anchor_message,
    ledger_behind,
    ledger_facts,
)
from receipts.ledger.events import HeadSigner
from receipts.ledger.models import Event, LedgerState
from receipts.pki.own_certificates import OwnCertificate, own_certificates, own_signer_problem
from receipts.support.atomic import write_atomic
from receipts.workspace import Workspace
from signing.seal import verify_seal
from signing.trust import ChainValidator, TrustBundle

__all__ = [
    "ANCHOR_FILE",
    "AnchorUnreadable",
    "LedgerBehindAnchor",
    "WorkspaceAnchor",
    "anchor_problem",
    "load_anchor",
    "missing_anchor_problem",
    "renew_anchor",
]

#: The anchor's file name in the workspace folder.
ANCHOR_FILE = "ledger-anchor.json"
_FORMAT = "receipts-ledger-anchor"


class AnchorUnreadable(WorkspaceError):
    """The anchor file is not an anchor this product wrote."""


class LedgerBehindAnchor(ReceiptError):
    """The ledger is behind (or off) its signed anchor: it was truncated or rewritten."""

    exit_code = 1


def load_anchor(path: Path) -> SignedAnchor | None:
    """The anchor in ``path``; None when there is no file."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise AnchorUnreadable(f"{path} is unreadable: {exc}") from None
    try:
        if data["format"] != _FORMAT:
            raise ValueError(f"format {data['format']!r}")
        return SignedAnchor(
            str(data["org"]),
            LedgerFacts.from_json(data["facts"]),
            datetime.fromisoformat(data["signed_at"]),
            str(data["certificate"]).encode("ascii"),
            str(data["signature"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnchorUnreadable(f"{path} is not a ledger anchor: {exc}") from None


def anchor_problem(
    anchor: SignedAnchor,
    org_code: str,
    own: tuple[OwnCertificate, ...],
    validator: ChainValidator | None,
) -> str | None:
    """Why ``anchor`` is not to be trusted, or None: it must be ``org_code``'s and signed by a key
    of one of the workspace's own certificates, which (but for a payer's ledger key) chains to
    ``validator``'s trust as of the anchor's time and names ``org_code``."""
    if anchor.org_code != org_code:
        return f"it anchors the ledger of {anchor.org_code}, not {org_code}"
    try:
        cert = x509.load_pem_x509_certificate(anchor.certificate_pem)
    except ValueError:
        return "its certificate is unreadable"
    problem = own_signer_problem(cert, own, org_code, validator, anchor.signed_at)
    if problem is not None:
        return problem.replace("its certificate", "it is signed by a certificate that", 1)
    if not verify_seal(cert, anchor_message(anchor.org_code, anchor.facts), anchor.signature):
        return "its signature does not verify"
    return None


def missing_anchor_problem(session: Session) -> str | None:
    """Why a ledger without an anchor file must have had one, or None: it holds receipts issued
    here, and issuing signs with the workspace's key, which writes the anchor in the same step.
    (A ledger restored from archives, or a workspace before its first issue, has none to lose.)
    Without this, deleting the file with a rollback left the audit a note and the next write a
    fresh anchor over the rolled-back ledger: a number issued twice, anchored."""
    seq = session.scalar(
        select(Event.seq).where(Event.kind == "receipt.issued").order_by(Event.seq).limit(1)
    )
    if seq is None:
        return None
    return (
        f"there is no ledger anchor ({ANCHOR_FILE}), yet the ledger holds receipts issued here "
        f"(event {seq} on), and each issue writes it: it was deleted, perhaps with a rollback "
        "of the ledger"
    )


class WorkspaceAnchor:
    """The :class:`receipts.ledger.anchor.LedgerAnchor` of a workspace: its anchor file."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.path = workspace.home / ANCHOR_FILE

    def check(self, session: Session, state: LedgerState) -> None:
        """Refuse to write to a ledger behind its anchor (a number could be issued twice)."""
        anchor = load_anchor(self.path)
        if anchor is None:
            missing = missing_anchor_problem(session)
            if missing is not None:
                raise LedgerBehindAnchor(
                    f"refusing to write: {missing}. Restore {self.path} from a backup; if it is "
                    "lost and 'receipts audit' finds nothing else, 'receipts audit "
                    "--renew-anchor' signs a new one"
                )
            return
        owner = self.workspace.ledger_owner
        problem = anchor_problem(
            anchor, owner, own_certificates(self.workspace), _workspace_validator(self.workspace)
        )
        if problem is not None:
            raise LedgerBehindAnchor(
                f"refusing to write: the ledger anchor {self.path} is not to be trusted "
                f"({problem}); run 'receipts audit' and restore it from a backup"
            )
        behind = ledger_behind(session, anchor.facts, ledger_facts(session, state))
        if behind:
            raise LedgerBehindAnchor(
                f"refusing to write: the ledger is behind its anchor {self.path}: {behind[0]}. "
                "Receipts may have been deleted from the database and a number could be issued "
                "twice; run 'receipts audit' and restore the ledger from a backup"
            )

    def record(self, anchor: SignedAnchor) -> None:
        """Write ``anchor`` unless the file already anchors as far or further."""
        with _locked(self.path.with_name(".ledger-anchor.lock")):
            try:
                current = load_anchor(self.path)
            except AnchorUnreadable:
                current = None  # a file we cannot read is replaced by one we wrote
            if current is not None and current.facts.event_count >= anchor.facts.event_count:
                return
            data = {
                "format": _FORMAT,
                "org": anchor.org_code,
                "facts": anchor.facts.to_json(),
                "signed_at": anchor.signed_at.isoformat(),
                "certificate": anchor.certificate_pem.decode("ascii"),
                "signature": anchor.signature,
            }
            write_atomic(self.path, (json.dumps(data, indent=2) + "\n").encode("ascii"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` among processes (where the platform has ``flock``)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one writer per workspace there
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _workspace_validator(workspace: Workspace) -> ChainValidator | None:
    """The workspace's own trust (the audit takes an auditor's bundle instead, when given)."""
    bundle = workspace.trust_dir / "bundle.pem"
    return chain_validator(TrustBundle.load(bundle)) if bundle.is_file() else None


def renew_anchor(workspace: Workspace, session: Session, signer: HeadSigner) -> SignedAnchor:
    """Sign the ledger's facts as they are now with ``signer`` (the workspace's own key) and write
    them as its anchor: for an anchor file that was lost, once an audit found nothing else. Only
    the key's holder can: an insider without it cannot anchor a ledger they rolled back."""
    state = session.get(LedgerState, 1)
    if state is None:
        raise WorkspaceError("the ledger has no state row: it was never initialised")
    facts = ledger_facts(session, state)
    owner = workspace.ledger_owner
    anchor = SignedAnchor(
        owner,
        facts,
        datetime.now(UTC).replace(microsecond=0),
        signer.certificate_pem,
        signer.sign(anchor_message(owner, facts)),
    )
    WorkspaceAnchor(workspace).record(anchor)
    return anchor
