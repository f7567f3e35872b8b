"""Sizes are checked before reading (issue 14, defect 10): an oversized file from outside is
refused with one clear error, and the refusal takes bounded memory. The hostile inputs are made
cheaply by the generators in tests/data/make_bad_corpus.py (a sparse 2 GiB file, a hand-built zip
of 20,000 members, a zip whose declared sizes lie); peak memory is measured on a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from receipts.pki.ca import read_request
from receipts.support.safezip import UnsafeArchive, ZipLimits, read_zip, write_zip
from receipts.support.sizes import MAX_BANK_STATEMENT_BYTES, FileTooLarge, read_bounded
from receipts.transmission.import_settings import ImportSettings
from tests.data.make_bad_corpus import OVERSIZED
from tests.support.tier_pki import tier_pki
from tests.support.workspaces import federation, receipts

ROOT = Path(__file__).resolve().parents[1]
PEAK_MB = 200
"""Peak resident memory a refusal may take; a Python process with lxml and cryptography loaded
is ~60-90 MB, and the files here would take 1.3-2.1 GB read whole."""

# Runs the CLI as a child of a small wrapper and prints the child's peak RSS (KiB on Linux), so
# that nothing else this test process ran counts.
_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "cli.py", *sys.argv[1:]], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps([done.returncode, peak, done.stdout + done.stderr]))
"""


def run_measured(*args: str) -> tuple[int, float, str]:
    """Exit code, peak RSS in MB, and stdout + stderr of ``receipts ARGS`` in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    ).stdout
    code, peak, output = json.loads(out)
    return code, peak / 1024, output


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.pem"
    path.write_bytes(tier_pki().bundle.to_pem())
    return path


def test_a_sparse_2_gib_xml_is_refused_before_it_is_read(tmp_path: Path, bundle: Path) -> None:
    xml = OVERSIZED["two-gigabytes-sparse.xml"](tmp_path / "two-gigabytes-sparse.xml")
    assert xml.stat().st_blocks * 512 < 1024 * 1024  # sparse: nothing was written
    code, peak, output = run_measured("--json", "verify", "--trust", str(bundle), str(xml))
    assert code == 1, output
    [report] = json.loads(output)
    assert report["findings"] == [
        {
            "code": "unreadable",
            "message": f"{xml} is too large for a receipt: 2,147,483,648 bytes, at most "
            "33,554,432 are accepted",
        }
    ]
    assert peak < PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_a_zip_of_20000_small_members_is_refused_before_inflating(
    tmp_path: Path, bundle: Path
) -> None:
    made = OVERSIZED["twenty-thousand-small-members.zip"]
    package = made(tmp_path / "twenty-thousand-small-members.zip")
    assert package.stat().st_size < 4_000_000
    code, peak, output = run_measured("archive", "verify", "--trust", str(bundle), str(package))
    assert code == 1, output
    assert "inflates beyond 536,870,912 bytes" in output, output
    assert peak < PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_a_zip_whose_sizes_lie_is_refused_while_inflating(tmp_path: Path, bundle: Path) -> None:
    package = OVERSIZED["member-sizes-lie.zip"](tmp_path / "member-sizes-lie.zip")
    with pytest.raises(UnsafeArchive, match=r"receipts/lie\.xml' is damaged: Bad CRC-32"):
        read_zip(package.read_bytes(), "lie.zip")
    code, peak, output = run_measured("archive", "verify", "--trust", str(bundle), str(package))
    assert code == 1, output
    assert "'receipts/lie.xml' is damaged" in output, output
    assert peak < PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_zip_limits_fit_a_month_and_refuse_beyond() -> None:
    limits = ZipLimits()
    # a month's archive of a city of ~10,000 receipts: XML + PDF + metadata each
    assert limits.max_members >= 30_001 and limits.max_total_bytes >= 480_000_000
    small = ZipLimits(max_members=2, max_total_bytes=100)
    with pytest.raises(UnsafeArchive, match="has 3 members; at most 2"):
        read_zip(write_zip({"a": b"", "b": b"", "c": b""}), "p", small)
    with pytest.raises(UnsafeArchive, match="inflates beyond 100 bytes"):
        read_zip(write_zip({"a": b"x" * 60, "b": b"y" * 60}), "p", small)
    # many small members each under the per-member ratio check, together a bomb
    many = write_zip({f"m{n}": bytes(60_000) for n in range(40)})
    with pytest.raises(UnsafeArchive, match=r"inflates to 2,400,000 bytes from [0-9,]+ \(a comp"):
        read_zip(many, "p")
    assert len(read_zip(write_zip({"a": os.urandom(2_000_000)}), "p")["a"]) == 2_000_000


def test_read_bounded_stats_files_and_caps_pipes(tmp_path: Path) -> None:
    sparse = tmp_path / "big.csv"
    with open(sparse, "wb") as handle:
        handle.truncate(10**12)  # a terabyte, sparse
    with pytest.raises(FileTooLarge, match=r"big.csv is too large for a test: 1,000,000,000,000 "):
        read_bounded(sparse, 1000, "a test")
    small = tmp_path / "small.csv"
    small.write_bytes(b"x" * 1000)
    assert read_bounded(small, 1000, "a test") == b"x" * 1000
    read, write = os.pipe()
    with os.fdopen(write, "wb") as sink:
        sink.write(b"z" * 2000)
    with pytest.raises(FileTooLarge, match="too large for a pipe: over 1,000 bytes"):
        read_bounded(Path(f"/dev/fd/{read}"), 1000, "a pipe")
    os.close(read)


@pytest.mark.parametrize(
    ("command", "suffix", "limit"),
    [
        (("reconcile", "bank"), ".csv", MAX_BANK_STATEMENT_BYTES),
        # Read member by member, never whole: its limit follows [transmission] max_receipts.
        (("transmit", "import"), ".zip", ImportSettings().max_file_bytes),
        (("pki", "import-cert"), ".pem", 16 * 1024 * 1024),
        (("pki", "import-trust"), ".pem", 16 * 1024 * 1024),
    ],
)
def test_commands_refuse_oversized_files_before_reading(
    tmp_path: Path, command: tuple[str, ...], suffix: str, limit: int
) -> None:
    home = tmp_path / "yinchuan"
    federation(home, "640100")
    big = tmp_path / f"big{suffix}"
    with open(big, "wb") as handle:
        handle.truncate(limit + 1)
    result = receipts(home, *command, str(big))
    assert result.exit_code == 2, result.output
    assert "is too large for" in result.stderr and f"{limit + 1:,} bytes" in result.stderr


def test_a_real_package_is_read(tmp_path: Path) -> None:
    members = {f"receipts/{n}.xml": os.urandom(5000) for n in range(50)}
    data = write_zip(members)
    assert read_zip(data, "p") == members
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as z:
        z.writestr("a", b"1")
    assert read_zip((tmp_path / "x.zip").read_bytes(), "x") == {"a": b"1"}


def test_a_flate_bomb_attached_to_a_pdf_is_refused_while_inflating(
    tmp_path: Path, bundle: Path
) -> None:
    pdf = OVERSIZED["attachment-flate-bomb.pdf"](tmp_path / "attachment-flate-bomb.pdf")
    assert pdf.stat().st_size < 1_000_000
    code, peak, output = run_measured("--json", "verify", "--trust", str(bundle), str(pdf))
    assert code == 1, output
    [report] = json.loads(output)
    assert [f["code"] for f in report["findings"]] == ["invalid-pdf"]
    assert "receipt.xml inflates beyond 1,000,000 bytes" in report["findings"][0]["message"]
    assert peak < PEAK_MB, f"peak RSS {peak:.0f} MB"


def test_a_certificate_request_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.csr"
    with open(big, "wb") as handle:
        handle.truncate(16 * 1024 * 1024 + 1)
    with pytest.raises(FileTooLarge, match="too large for a certificate request"):
        read_request(big)
