"""The insider of tests/test_audit_insider.py with the workspace folder too: a certificate of
their own recorded there, the anchor file deleted (``docs/security.md``, "The ledger's anchor")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from receipts.ledger.anchor import ledger_facts
from receipts.ledger.models import LedgerState
from receipts.pki.anchor_file import ANCHOR_FILE
from receipts.pki.ledger_key import create_ledger_key
from receipts.pki.own_certificates import record_own_certificate
from tests.support.workspaces import receipts
from tests.test_audit_insider import (  # noqa: F401  (city: the fixture)
    city,
    issue,
    open_ledger,
    rechain,
    truncate_last_receipt,
)


def test_a_self_made_certificate_in_the_workspace_folder_signs_nothing(
    city: tuple[Path, str | None],  # noqa: F811
    tmp_path: Path,
) -> None:
    """The insider writes the folder too: a self-signed lookalike recorded as one of the
    workspace's own certificates (and dropped in as certs/ledger.pem) re-signs the heads and the
    anchor after the tail is cut. A federation's heads and anchor must chain to its CA: the
    audit and the next write refuse them (before, the audit passed and a number was issued
    twice)."""
    from receipts.ledger.anchor import SignedAnchor, anchor_message
    from receipts.pki.anchor_file import WorkspaceAnchor
    from receipts.workspace import Workspace

    home, db = city
    lookalike = create_ledger_key(
        tmp_path / "fake.key", tmp_path / "fake.pem", "640100", "银川市总工会", "insider passphrase"
    )
    workspace = Workspace.open(home)
    record_own_certificate(workspace, lookalike.certificate, datetime.now(UTC))
    (home / "certs" / "ledger.pem").write_bytes(lookalike.certificate_pem)
    database = open_ledger(home, db)
    truncate_last_receipt(database)
    rechain(database, lookalike)
    with database.read() as session:
        state = session.get(LedgerState, 1)
        assert state is not None
        facts = ledger_facts(session, state)
    database.dispose()
    (home / ANCHOR_FILE).unlink()
    message = anchor_message("640100", facts)
    WorkspaceAnchor(workspace).record(
        SignedAnchor(
            "640100", facts, datetime.now(UTC), lookalike.certificate_pem, lookalike.sign(message)
        )
    )
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 1, report.output
    findings = json.loads(report.stdout)["findings"]
    assert {"head-invalid", "anchor-invalid"} <= {f["code"] for f in findings}, findings
    refused = issue(home, db, "另一家公司")
    assert refused.exit_code == 1 and "not to be trusted" in refused.stderr


def test_a_deleted_anchor_is_a_finding_and_stops_writes_until_renewed(
    city: tuple[Path, str | None],  # noqa: F811
) -> None:
    """Deleted with a rollback, the anchor left the audit a note and the next write a fresh
    anchor over the rolled-back ledger (a number issued twice, anchored). A ledger holding
    receipts issued here must have one: without it the audit says anchor-missing and writes
    stop; the key's holder renews it once the audit finds nothing else."""
    home, db = city
    database = open_ledger(home, db)
    truncate_last_receipt(database)  # the rollback
    database.dispose()
    (home / ANCHOR_FILE).unlink()
    report = receipts(home, "--json", "audit", db=db)
    assert report.exit_code == 1, report.output
    assert "anchor-missing" in {f["code"] for f in json.loads(report.stdout)["findings"]}
    refused = issue(home, db, "另一家公司")
    assert refused.exit_code == 1 and "there is no ledger anchor" in refused.stderr
    assert "--renew-anchor" in refused.stderr
    # The cut ledger's other findings (its rows) stop a renewal too.
    renewal = receipts(home, "audit", "--renew-anchor", db=db)
    assert renewal.exit_code == 2 and "refusing to renew" in renewal.stderr
    assert not (home / ANCHOR_FILE).exists()


def test_a_lost_anchor_is_renewed_by_the_keys_holder(
    city: tuple[Path, str | None],  # noqa: F811
) -> None:
    home, db = city
    (home / ANCHOR_FILE).unlink()  # lost, nothing else changed
    assert receipts(home, "audit", db=db).exit_code == 1
    renewal = receipts(home, "audit", "--renew-anchor", db=db)
    assert renewal.exit_code == 0 and "renewed the ledger anchor at" in renewal.stdout
    assert receipts(home, "audit", "--renew-anchor", db=db).exit_code == 2  # not missing now
    assert receipts(home, "audit", db=db).exit_code == 0
    assert issue(home, db, "另一家公司").exit_code == 0
