"""The command → role matrix of docs/security.md ("Operators and key slots"), one command of each
class: a refusal is one line naming the role, exit 2, and writes nothing; the role that may do
it does it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select

from receipts.ledger.database import Database, default_url
from receipts.ledger.models import Event
from tests.support.operators import add_operator, as_operator, with_operators
from tests.support.pki_cli import CA, Tiers
from tests.support.pki_cli import run as pki_run
from tests.support.workspaces import receipts


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_operators(tmp_path_factory.mktemp("roles") / "yinchuan")


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "yinchuan"
    shutil.copytree(built, target)
    return target


def _events(home: Path) -> int:
    db = Database(default_url(home))
    try:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(Event)) or 0)
    finally:
        db.dispose()


def _refused(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [f"error: {message}"]


CASES = [
    # admin: stock, organisations, PKI
    (
        "李建国",
        ("stock", "allocate", "--to", "640100", "--count", "10"),
        "李建国 is a reviewer; allocating stock needs an admin",
    ),
    (
        "张晓梅",
        ("stock", "write-off", "64710126:1-10"),
        "张晓梅 is a clerk; writing off stock needs an admin",
    ),
    (
        "张晓梅",
        ("org", "add", "--code", "640104"),
        "张晓梅 is a clerk; adding organisations needs an admin",
    ),
    (
        "张晓梅",
        ("pki", "crl", "-o", "HOME/x.crl"),
        "张晓梅 is a clerk; managing keys and certificates needs an admin",
    ),
    (
        "李建国",
        ("pki", "import-trust", "HOME/bundle.pem"),
        "李建国 is a reviewer; changing the trust bundle needs an admin",
    ),
    (
        "张晓梅",
        ("pki", "rekey"),
        "张晓梅 is a clerk; changing a key's passphrase needs an admin",
    ),
    # reviewer: periods and archives
    (
        "张晓梅",
        ("period", "close", "2026-10"),
        "张晓梅 is a clerk; closing periods needs a reviewer",
    ),
    (
        "刘洋",
        ("period", "reopen", "2026-10", "--reason", "补开"),
        "刘洋 is a clerk; reopening periods needs a reviewer",
    ),
    (
        "张晓梅",
        ("archive", "create", "--period", "2026-10", "-o", "HOME/a.zip"),
        "张晓梅 is a clerk; archiving periods needs a reviewer",
    ),
    # clerk: issuing, rendering, transmitting
    (
        "李静",
        ("transmit", "export", "-o", "HOME/p.zip"),
        "李静 is an admin; transmitting needs a clerk",
    ),
    (
        "王芳",
        ("transmit", "ack", "HOME/p.ack.xml"),
        "王芳 is an auditor; recording acknowledgements needs a clerk",
    ),
    (
        "王芳",
        ("render", "64710126", "1", "-o", "HOME/r.pdf"),
        "王芳 is an auditor; rendering receipts needs a clerk",
    ),
    (
        "王芳",
        ("reconcile", "summary", "-o", "HOME/s.xml"),
        "王芳 is an auditor; recording reconciliation summaries needs a clerk or a reviewer",
    ),
]
"""(operator, command, refusal) for one command of each class."""


@pytest.mark.parametrize(("who", "args", "message"), CASES)
def test_each_class_of_command_needs_its_role(
    home: Path, who: str, args: tuple[str, ...], message: str
) -> None:
    (home / "bundle.pem").write_text("not read: the role is checked first")
    (home / "p.ack.xml").write_text("not read: the role is checked first")
    before = _events(home)
    args = tuple(a.replace("HOME", str(home)) for a in args)
    _refused(as_operator(home, who, *args), message)
    assert _events(home) == before


def test_the_role_that_may_does(home: Path) -> None:
    assert as_operator(home, "李静", "org", "add", "--code", "640104").exit_code == 0
    closed = as_operator(home, "李建国", "period", "close", "2026-10")
    assert closed.exit_code == 0, closed.output
    assert _events(home) == 7  # five operators, one organisation, one closed month


def test_writing_without_naming_an_operator_is_refused_reading_is_not(home: Path) -> None:
    _refused(
        receipts(home, "period", "close", "2026-10"),
        "this workspace has operators: say who you are with --operator NAME (or RECEIPTS_OPERATOR)",
    )
    for args in (("period", "list"), ("stock", "list"), ("audit",), ("log",), ("org", "list")):
        assert receipts(home, *args).exit_code == 0, args


def test_a_payers_auditor_cannot_book(tmp_path: Path) -> None:
    home = tmp_path / "payer"
    init = receipts(
        home, "init", "--payer", "--name", "宁夏贺兰山实业有限公司", "--uscc", "91640100MA7600001J"
    )
    assert init.exit_code == 0, init.output
    assert add_operator(home, None, "李静", "admin").exit_code == 0
    assert add_operator(home, "李静", "王芳", "auditor").exit_code == 0
    receipt = tmp_path / "receipt.pdf"
    receipt.write_bytes(b"%PDF-1.7 not read: the role is checked first")
    result = as_operator(home, "王芳", "book", str(receipt), "--voucher", "记-1", "--by", "王芳")
    _refused(result, "王芳 is an auditor; booking receipts needs a clerk")
    listed = as_operator(home, "王芳", "book", "--list")
    assert listed.exit_code == 0, listed.output


def test_a_renewed_key_is_saved_under_the_volume_key(pki_tiers_copy: Tiers) -> None:
    """With operators, a new signing key (``pki csr --renew``) is encrypted under the volume
    key, not a passphrase: the operators' slots open it, and ``pki rekey`` is refused."""
    t = pki_tiers_copy
    legacy = {"RECEIPTS_KEY_PASSPHRASE": "signing-secret"}
    first = {**legacy, "RECEIPTS_NEW_OPERATOR_SECRET": "admin secret of li jing"}
    added = as_operator(t.city, None, "operator", "add", "李静", "--role", "admin", env=first)
    assert added.exit_code == 0, added.output
    csr, pem = str(t.file("city2.csr")), str(t.file("city2.pem"))
    renewed = as_operator(t.city, "李静", "pki", "csr", "--renew", "-o", csr)
    assert renewed.exit_code == 0, renewed.output
    assert pki_run(t.prov, "pki", "issue-cert", csr, "-o", pem, CA).exit_code == 0
    imported = as_operator(t.city, "李静", "pki", "import-cert", pem, "--root", str(t.root_pem))
    assert imported.exit_code == 0, imported.output
    signed = as_operator(t.city, "李静", "org", "add", "--code", "640104")
    assert signed.exit_code == 0, signed.output
    _refused(
        as_operator(t.city, "李静", "pki", "rekey"),
        "the signing key opens with the operators' key slots, not a passphrase: each operator "
        "changes their own secret ('operator secret')",
    )
