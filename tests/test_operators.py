"""Named operators and their key slots (docs/security.md, "Operators and key slots"): add, list,
disable; the operator's own secret; the ledger, not the slot file, gives the role; workspaces
without operators work as before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from receipts.domain.enums import OperatorRole
from receipts.errors import NotPermitted
from receipts.pki.key_slots import make_slot, open_slot, slot_path
from receipts.pki.keyfile import load_key_file
from signing.errors import SigningError
from tests.support.operators import SECRETS, add_operator, as_operator, with_operators
from tests.support.workspaces import PASSPHRASE, federation, receipts

ORG_ADD = ("org", "add", "--code", "640104")


def clerk_write(home: Path) -> tuple[str, ...]:
    """A write a clerk may make (a reconciliation summary signs and records an event)."""
    return ("reconcile", "summary", "-o", str(home / "summary.xml"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """银川 with an admin, two clerks, a reviewer and an auditor (built once, copied per test)."""
    return with_operators(tmp_path_factory.mktemp("ops") / "yinchuan")


@pytest.fixture
def home(built: Path, tmp_path: Path) -> Path:
    target = tmp_path / "yinchuan"
    shutil.copytree(built, target)
    return target


def _error(result: object) -> str:
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return str(lines[0])


def test_list_shows_every_operator_with_role_and_slot(home: Path) -> None:
    result = as_operator(home, None, "--json", "operator", "list")
    assert result.exit_code == 0, result.output
    listed = {o["name"]: (o["role"], o["state"], o["slot"]) for o in json.loads(result.stdout)}
    assert listed == {
        "李静": ("admin", "active", "yes"),
        "张晓梅": ("clerk", "active", "yes"),
        "刘洋": ("clerk", "active", "yes"),
        "李建国": ("reviewer", "active", "yes"),
        "王芳": ("auditor", "active", "yes"),
    }


def test_the_workspace_passphrase_no_longer_opens_the_signing_key(home: Path) -> None:
    with pytest.raises(SigningError):
        load_key_file(home / "keys" / "signing.key", PASSPHRASE)
    # Without --operator, a write is refused with one line, whatever passphrase is set.
    refused = receipts(home, *ORG_ADD)
    assert refused.exit_code == 2
    assert _error(refused) == (
        "error: this workspace has operators: say who you are with --operator NAME "
        "(or RECEIPTS_OPERATOR)"
    )
    # Reading needs nobody.
    assert receipts(home, "org", "list").exit_code == 0
    done = as_operator(home, "张晓梅", *clerk_write(home))
    assert done.exit_code == 0, done.output


def test_a_wrong_secret_is_refused_and_changes_nothing(home: Path) -> None:
    result = as_operator(home, "张晓梅", *ORG_ADD, secret="clerk secret of somebody else")
    assert result.exit_code == 2
    assert _error(result) == "error: wrong secret for operator 张晓梅"
    assert "640104" not in as_operator(home, None, "org", "list").stdout


def test_an_unknown_operator_is_refused(home: Path) -> None:
    result = as_operator(home, "赵六", *ORG_ADD)
    assert result.exit_code == 2
    assert _error(result) == "error: 赵六 is not an operator of this workspace"


def test_a_disabled_operators_slot_is_gone_and_they_are_refused(home: Path) -> None:
    slot = slot_path(home / "keys", "刘洋")
    kept = slot.read_bytes()
    result = as_operator(home, "李静", "operator", "disable", "刘洋")
    assert result.exit_code == 0, result.output
    assert not slot.exists()
    refused = as_operator(home, "刘洋", *ORG_ADD)
    assert _error(refused) == "error: 刘洋 is disabled and may no longer act"
    # Putting the old slot file back gives nothing either: the ledger says disabled.
    slot.write_bytes(kept)
    slot.chmod(0o600)
    assert _error(as_operator(home, "刘洋", *ORG_ADD)) == (
        "error: 刘洋 is disabled and may no longer act"
    )
    # The name is never given again.
    again = add_operator(home, "李静", "刘洋", "clerk")
    assert again.exit_code == 2 and "names are never reused" in again.stderr


def test_an_auditor_can_read_but_never_sign_nor_write(home: Path) -> None:
    refused = as_operator(home, "王芳", *ORG_ADD)
    assert refused.exit_code == 2
    assert _error(refused).startswith("error: 王芳 is an auditor; ")
    assert as_operator(home, "王芳", "audit").exit_code == 0
    # The auditor's slot unwraps no volume key at all.
    with as_operator_session(home) as pins:
        unlocked = open_slot(
            home / "keys", "王芳", OperatorRole.AUDITOR, SECRETS["王芳"], pins["王芳"]
        )
    assert unlocked.volume_key is None


def test_only_an_admin_adds_or_disables_operators(home: Path) -> None:
    result = add_operator(home, "张晓梅", "陈静", "clerk")
    assert result.exit_code == 2
    assert _error(result) == "error: 张晓梅 is a clerk; adding operators needs an admin"
    result = as_operator(home, "李建国", "operator", "disable", "张晓梅")
    assert _error(result) == "error: 李建国 is a reviewer; disabling operators needs an admin"
    last = as_operator(home, "李静", "operator", "disable", "李静")
    assert _error(last) == "error: 李静 is the last active admin; add another admin first"


def test_an_edited_slot_file_cannot_grant_a_role(home: Path) -> None:
    """A clerk rewrites their own slot to say admin: the pin in the ledger no longer matches."""
    path = slot_path(home / "keys", "张晓梅")
    doc = json.loads(path.read_bytes())
    doc["role"] = "admin"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = as_operator(home, "张晓梅", "operator", "add", "陈静", "--role", "clerk")
    assert result.exit_code == 2
    assert "is not the one the ledger recorded for them" in _error(result)


def test_a_copied_or_forged_slot_cannot_grant_a_role(home: Path) -> None:
    """A clerk copies their slot over the reviewer's, or makes a new slot for the reviewer's
    name holding the volume key under a secret they know: both are refused by the pin."""
    keys = home / "keys"
    shutil.copy(slot_path(keys, "张晓梅"), slot_path(keys, "李建国"))
    copied = as_operator(home, "李建国", *ORG_ADD, secret=SECRETS["张晓梅"])
    assert "is not the one the ledger recorded for them" in _error(copied)
    with as_operator_session(home) as pins:
        volume = open_slot(
            keys, "张晓梅", OperatorRole.CLERK, SECRETS["张晓梅"], pins["张晓梅"]
        ).volume_key
    forged = make_slot("李建国", OperatorRole.REVIEWER, "a secret the clerk chose", volume)
    slot_path(keys, "李建国").write_bytes(forged)
    refused = as_operator(home, "李建国", *ORG_ADD, secret="a secret the clerk chose")
    assert "is not the one the ledger recorded for them" in _error(refused)


def test_an_edited_operators_table_cannot_grant_a_role(home: Path) -> None:
    """The ledger's events decide the role, not the operators table (a cache)."""
    import sqlite3

    with sqlite3.connect(home / "ledger.sqlite") as conn:
        conn.execute("UPDATE operators SET role = 'admin' WHERE name = '张晓梅'")
    result = add_operator(home, "张晓梅", "陈静", "clerk")
    assert _error(result) == "error: 张晓梅 is a clerk; adding operators needs an admin"
    audit = as_operator(home, None, "--json", "audit")
    assert audit.exit_code == 1
    codes = [f["code"] for f in json.loads(audit.stdout)["findings"]]
    assert codes == ["operator-mismatch"]


def test_the_first_operator_must_be_an_admin_and_knows_the_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    clerk = add_operator(home, None, "张晓梅", "clerk")
    assert _error(clerk) == "error: the first operator must be an admin, not a clerk"
    wrong = as_operator(
        home,
        None,
        "operator",
        "add",
        "李静",
        "--role",
        "admin",
        env={
            "RECEIPTS_KEY_PASSPHRASE": "not the passphrase",
            "RECEIPTS_NEW_OPERATOR_SECRET": "x" * 20,
        },
    )
    assert wrong.exit_code == 2
    assert not (home / "keys" / "slots" / "李静.slot").exists()
    assert load_key_file(home / "keys" / "signing.key", PASSPHRASE) is not None
    assert receipts(home, *ORG_ADD).exit_code == 0  # still legacy mode


def test_a_workspace_without_operators_works_as_before(tmp_path: Path) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    assert receipts(home, *ORG_ADD).exit_code == 0
    listed = receipts(home, "operator", "list")
    assert listed.stdout.strip() == "no operators (legacy mode)"
    log = json.loads(receipts(home, "log", "--json").stdout)
    assert [(e["kind"], e["operator"]) for e in log] == [("org.added", None)]


def test_a_payer_workspace_gets_operators_too(tmp_path: Path) -> None:
    home = tmp_path / "payer"
    init = receipts(
        home, "init", "--payer", "--name", "宁夏贺兰山实业有限公司", "--uscc", "91640100MA7600001J"
    )
    assert init.exit_code == 0, init.output
    first = add_operator(home, None, "李静", "admin")
    assert first.exit_code == 0, first.output
    with pytest.raises(SigningError):
        load_key_file(home / "keys" / "signing.key", PASSPHRASE)
    assert add_operator(home, "李静", "张晓梅", "clerk").exit_code == 0


class as_operator_session:
    """The slot pins of the ledger, read through the product's own look-up."""

    def __init__(self, home: Path) -> None:
        from receipts.ledger.database import Database, default_url

        self.db = Database(default_url(home))

    def __enter__(self) -> dict[str, str]:
        from receipts.pki.operators import list_operators, slot_fingerprint

        with self.db.read() as session:
            return {
                o.name: slot_fingerprint(session, o.name) or "" for o in list_operators(session)
            }

    def __exit__(self, *exc: object) -> None:
        self.db.dispose()


def test_require_role_names_the_rule() -> None:
    from receipts.pki.operators import Operator, require_role

    auditor = Operator("王芳", OperatorRole.AUDITOR, True)
    with pytest.raises(NotPermitted) as raised:
        require_role(auditor, OperatorRole.CLERK, action="issuing receipts")
    assert str(raised.value) == "王芳 is an auditor; issuing receipts needs a clerk"
    require_role(None, OperatorRole.CLERK, action="issuing receipts")  # legacy mode
    disabled = Operator("刘洋", OperatorRole.CLERK, False)
    with pytest.raises(NotPermitted):
        require_role(disabled, OperatorRole.CLERK, action="issuing receipts")


def test_an_operator_changes_their_own_secret(home: Path) -> None:
    new = {"RECEIPTS_NEW_OPERATOR_SECRET": "zhang xiaomei's new secret"}
    changed = as_operator(home, "张晓梅", "operator", "secret", env=new)
    assert changed.exit_code == 0, changed.output
    old = as_operator(home, "张晓梅", *ORG_ADD)
    assert _error(old) == "error: wrong secret for operator 张晓梅"
    done = as_operator(home, "张晓梅", *clerk_write(home), secret="zhang xiaomei's new secret")
    assert done.exit_code == 0, done.output
    audit = as_operator(home, None, "--json", "audit")
    assert audit.exit_code == 0, audit.output
    assert json.loads(audit.stdout)["operators"]["张晓梅"] == {
        "operator.secret-changed": 1,
        "reconcile.summary": 1,
    }
    refused = as_operator(home, "王芳", "operator", "secret", env=new)
    assert _error(refused).startswith("error: 王芳 is an auditor; changing a secret")


def test_a_key_file_put_back_from_before_operators_is_named(home: Path) -> None:
    from receipts.support.atomic import PRIVATE, write_atomic
    from tests.support.workspaces import _key_file

    write_atomic(home / "keys" / "signing.key", _key_file("640100"), mode=PRIVATE)
    result = as_operator(home, "张晓梅", *clerk_write(home))
    assert result.exit_code == 2
    assert _error(result).startswith(
        f"error: the operators' volume key does not decrypt {home / 'keys' / 'signing.key'}"
    )
