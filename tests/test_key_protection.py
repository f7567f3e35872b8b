"""Keys at rest (docs/security.md, "Keys at rest and file modes"): today's key files carry
600,000 PBKDF2-HMAC-SHA256 iterations, read from the file itself; older ones are upgraded on load;
a weak passphrase is refused for a new key; a key open to other users is refused unless
``--allow-insecure-permissions``; the workspace, its ledger and its log are its owner's only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import pem as asn1_pem
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from cli import main
from receipts.pki.credentials import Credentials
from receipts.pki.keyfile import load_key_file, save_key
from receipts.workspace import Workspace
from signing.errors import KeyFileError, PassphraseError, WrongPassphrase
from signing.keys import generate_key
from tests.support.pki_cli import CA, Tiers, init, ok, refused
from tests.support.workspaces import PASSPHRASE, federation, receipts

GOOD = "correct horse battery staple"


def _pbkdf2(path: Path) -> tuple[str, str, int, str]:
    """(KDF, PRF, iterations, cipher) of an encrypted PKCS#8 file, parsed here with asn1crypto
    rather than with the product's own reader."""
    label, _, der = asn1_pem.unarmor(path.read_bytes())
    assert label == "ENCRYPTED PRIVATE KEY"
    algorithm = asn1_keys.EncryptedPrivateKeyInfo.load(der)["encryption_algorithm"]
    assert algorithm["algorithm"].native == "pbes2"
    params = algorithm["parameters"]
    kdf = params["key_derivation_func"]
    return (
        kdf["algorithm"].native,
        kdf["parameters"]["prf"]["algorithm"].native,
        kdf["parameters"]["iteration_count"].native,
        params["encryption_scheme"]["algorithm"].native,
    )


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which files and folders come out readable by everyone."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _never(text: str) -> str:
    raise AssertionError(f"asked {text!r} for a key file that is refused anyway")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_saved_today_has_600000_pbkdf2_sha256_iterations(tmp_path: Path) -> None:
    key = generate_key()
    path = save_key(key, tmp_path / "signing.key", GOOD)
    assert _pbkdf2(path) == ("pbkdf2", "sha256", 600_000, "aes256_cbc")
    assert load_key_file(path, GOOD).public_key() == key.public_key()
    with pytest.raises(WrongPassphrase):
        load_key_file(path, GOOD + "!")


def test_the_root_ca_key_has_600000_iterations(tmp_path: Path) -> None:
    nat = init(tmp_path / "nat", "000000")
    ok(nat, "pki", "init-root", CA)
    assert _pbkdf2(nat / "keys" / "ca.key")[1:3] == ("sha256", 600_000)


def test_an_old_key_is_reencrypted_on_load_once_with_the_same_passphrase(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "old.key"
    # What earlier versions wrote: cryptography's BestAvailableEncryption, 2,048 iterations.
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    path.chmod(0o600)
    assert _pbkdf2(path)[2] == 2048
    notes: list[str] = []
    assert load_key_file(path, "pw", notify=notes.append).public_key() == key.public_key()
    assert _pbkdf2(path) == ("pbkdf2", "sha256", 600_000, "aes256_cbc")
    assert _mode(path) == 0o600
    assert len(notes) == 1 and "2,048 iterations" in notes[0] and str(path) in notes[0]
    assert load_key_file(path, "pw", notify=notes.append).public_key() == key.public_key()
    assert len(notes) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["old.key"]


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        ("pw", "too short"),
        ("correct11", "too short"),
        ("zzzzzzzzzzzzzzzz", "repeats one character"),
    ],
)
def test_a_weak_passphrase_is_refused_for_a_new_key(
    tmp_path: Path, passphrase: str, message: str
) -> None:
    with pytest.raises(PassphraseError, match=message):
        save_key(generate_key(), tmp_path / "k.key", passphrase)
    assert not any(tmp_path.iterdir())


def test_the_org_code_or_name_is_refused_as_passphrase(tmp_path: Path) -> None:
    name = "宁夏贺兰山实业有限公司二号分公司"
    with pytest.raises(PassphraseError, match="code or name"):
        save_key(generate_key(), tmp_path / "k.key", name, refuse=("640100", name))
    uscc = "91640100MA7600001J"
    args = ["--home", str(tmp_path / "acme"), "init", "--payer", "--name", name, "--uscc", uscc]
    result = CliRunner(env={"RECEIPTS_KEY_PASSPHRASE": uscc.lower()}).invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the passphrase is the organisation's code or name: choose one nobody can guess\n"
    )
    assert not (tmp_path / "acme").exists()


def test_a_short_ca_passphrase_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    nat = init(tmp_path / "nat", "000000")
    env = {"RECEIPTS_CA_PASSPHRASE": "secret"}
    message = refused(nat, "pki", "init-root", CA, env=env)
    assert message == (
        "the passphrase is too short (6 characters): a new key's passphrase needs at least 12"
    )
    assert not (nat / "keys" / "ca.key").exists() and not (nat / "certs" / "ca.pem").exists()


def test_workspace_ledger_and_log_are_the_owners_only(tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "ws"
    ok(home, "init", "--org", "640100", "--name", "银川市总工会")
    for folder in (home, home / "keys", home / "logs"):
        assert _mode(folder) == 0o700, folder
    # A command that opens the ledger creates it; one that fails logs its traceback.
    result = CliRunner().invoke(main, ["--home", str(home), "show", "64012026", "1"])
    assert result.exit_code == 2, result.output
    ledger = [p for p in home.iterdir() if p.name.startswith("ledger.sqlite")]
    assert ledger and all(_mode(p) == 0o600 for p in ledger), [(p, _mode(p)) for p in ledger]
    assert _mode(home / "logs" / "receipts.log") == 0o600


def test_a_key_open_to_others_is_refused_unless_allowed(tmp_path: Path, umask_022: None) -> None:
    home = tmp_path / "city"
    federation(home, "640100")
    key_path = home / "keys" / "signing.key"
    key_path.chmod(0o644)
    ws = Workspace.open(home)
    with pytest.raises(KeyFileError) as caught:
        _ = Credentials(ws, _never).signer
    assert str(caught.value) == (
        f"key file {key_path} is open to other users (mode 0644): run 'chmod 600 {key_path}' "
        "(or pass --allow-insecure-permissions, at your own risk)"
    )
    allowed = Credentials(ws, lambda _: PASSPHRASE, allow_insecure_permissions=True)
    assert allowed.signer.certificate is not None
    key_path.chmod(0o600)
    assert Credentials(ws, lambda _: PASSPHRASE).signer.certificate is not None


def test_the_cli_refuses_an_open_key_and_the_flag_allows_it(tmp_path: Path) -> None:
    home = tmp_path / "city"
    federation(home, "640100")
    key_path = home / "keys" / "signing.key"
    key_path.chmod(0o640)
    runner = CliRunner(
        env={"RECEIPTS_KEY_PASSPHRASE": PASSPHRASE, "RECEIPTS_NEW_KEY_PASSPHRASE": GOOD + " two"}
    )
    refused_run = runner.invoke(main, ["--home", str(home), "pki", "rekey"])
    assert refused_run.exit_code == 2
    assert f"chmod 600 {key_path}" in refused_run.stderr
    allowed = runner.invoke(
        main, ["--home", str(home), "--allow-insecure-permissions", "pki", "rekey"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert _mode(key_path) == 0o600
    load_key_file(key_path, GOOD + " two")


def test_rekey_changes_the_passphrase_under_the_policy(tmp_path: Path) -> None:
    home = tmp_path / "city"
    federation(home, "640100")
    key_path = home / "keys" / "signing.key"
    before = load_key_file(key_path, PASSPHRASE).public_key()
    env = {"RECEIPTS_KEY_PASSPHRASE": PASSPHRASE, "RECEIPTS_NEW_KEY_PASSPHRASE": "640100"}
    result = CliRunner(env=env).invoke(main, ["--home", str(home), "pki", "rekey"])
    assert (result.exit_code, result.stderr) == (
        2,
        "error: the passphrase is too short (6 characters): "
        "a new key's passphrase needs at least 12\n",
    )
    load_key_file(key_path, PASSPHRASE)
    env["RECEIPTS_NEW_KEY_PASSPHRASE"] = GOOD + " again"
    result = CliRunner(env=env).invoke(main, ["--home", str(home), "pki", "rekey"])
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"re-encrypted {key_path} with the new passphrase "
        "(PBKDF2-HMAC-SHA256, 600,000 iterations)\n"
    )
    with pytest.raises(WrongPassphrase):
        load_key_file(key_path, PASSPHRASE)
    assert load_key_file(key_path, GOOD + " again").public_key() == before


def test_a_payers_ledger_key_is_unlocked_once_per_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "acme"
    args = ["--home", str(home), "init", "--payer", "--name", "宁夏贺兰山实业有限公司"]
    env = {"RECEIPTS_KEY_PASSPHRASE": GOOD}
    result = CliRunner(env=env).invoke(main, [*args, "--uscc", "91640100MA7600001J"])
    assert result.exit_code == 0, result.output
    monkeypatch.delenv("RECEIPTS_KEY_PASSPHRASE", raising=False)
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return GOOD

    creds = Credentials(Workspace.open(home), prompt)
    first, second = creds.signer_if_any(), creds.signer_if_any()
    assert first is second and len(asked) == 1


def test_a_cas_books_are_the_owners_only(pki_tiers: Tiers) -> None:
    # Built by `pki issue-cert` under the test process's umask (022 unless the caller set one).
    for home in (pki_tiers.nat, pki_tiers.prov):
        assert _mode(home / "ca") == 0o700, home
        assert _mode(home / "keys" / "ca.key") == 0o600, home


def test_the_cli_notes_the_upgrade_of_an_old_key_once(tmp_path: Path) -> None:
    home = tmp_path / "prov"
    federation(home, "640000")
    key_path = home / "keys" / "signing.key"
    key = load_key_file(key_path, PASSPHRASE)
    old = serialization.BestAvailableEncryption(PASSPHRASE.encode())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, old)
    key_path.write_bytes(pem)
    first = receipts(home, "org", "add", "--code", "640100")
    assert first.exit_code == 0, first.output
    assert first.stderr == (
        f"note: {key_path} was encrypted with PBKDF2-HMAC-SHA256, 2,048 iterations; it is now "
        "re-encrypted with PBKDF2-HMAC-SHA256, 600,000 iterations (same passphrase)\n"
    )
    assert _pbkdf2(key_path)[2] == 600_000 and _mode(key_path) == 0o600
    second = receipts(home, "org", "add", "--code", "640200")
    assert (second.exit_code, second.stderr) == (0, "")
