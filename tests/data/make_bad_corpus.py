"""Write tests/data/bad/*.xml from the good normal sample (run from the repository root).

Each file is named for what is wrong with it; ``tests/test_bad_corpus.py`` holds the exact
error each must produce. The files are committed; rerun this only to add a case.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

DATA = Path(__file__).parent
GOOD = (DATA / "good" / "normal.xml").read_text("utf-8")
REVERSAL = (DATA / "good" / "reversal.xml").read_text("utf-8")


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


ITEM = """    <Item>
      <Code>02</Code>
      <Name>会员会费</Name>
      <Period>2026-10</Period>
      <Amount>1409.50</Amount>
    </Item>
"""

CASES: dict[str, str] = {
    "total-not-sum.xml": sub(GOOD, "<Amount>3409.50</Amount>", "<Amount>3409.60</Amount>"),
    "capitals-mismatch.xml": sub(GOOD, "叁仟肆佰零玖元伍角整", "叁仟肆佰零玖元陆角整"),
    "fraction-of-fen.xml": sub(GOOD, "<Amount>1409.50</Amount>", "<Amount>1409.505</Amount>"),
    "amount-too-large.xml": sub(
        GOOD, "<Amount>1409.50</Amount>", "<Amount>99999999999999.00</Amount>"
    ),
    "missing-handler.xml": sub(GOOD, "  <Handler>张晓梅</Handler>\n", ""),
    "too-many-items.xml": sub(GOOD, "  </Items>", ITEM * 8 + "  </Items>"),
    "bad-period.xml": sub(GOOD, "<Period>2026-10</Period>", "<Period>2026-13</Period>"),
    "uscc-wrong-check-character.xml": sub(GOOD, "91640100MA7600001J", "91640100MA7600001K"),
    "code-of-another-province.xml": sub(GOOD, "<Code>64710126</Code>", "<Code>65710126</Code>"),
    "code-of-another-year.xml": sub(GOOD, "<Code>64710126</Code>", "<Code>64710125</Code>"),
    "tier-mismatch.xml": sub(GOOD, "<Tier>city</Tier>", "<Tier>provincial</Tier>"),
    "not-a-province.xml": sub(GOOD, "<OrgCode>640100</OrgCode>", "<OrgCode>990100</OrgCode>"),
    "basis-times-rate-wrong.xml": sub(
        sub(GOOD, "<Amount>2000.00</Amount>", "<Amount>2001.00</Amount>"),
        "<Amount>3409.50</Amount>",
        "<Amount>3410.50</Amount>",
    ),
    "reversal-with-positive-amounts.xml": REVERSAL.replace("<Amount>-", "<Amount>"),
    "reversal-without-original.xml": sub(
        REVERSAL,
        "  <Original>\n    <Code>64710126</Code>\n    <Number>0000000001</Number>\n  </Original>\n"
        "  <Reason>交款人名称开具错误</Reason>\n",
        "",
    ),
    "normal-with-original.xml": sub(
        GOOD,
        "  <Handler>",
        "  <Original>\n    <Code>64710126</Code>\n    <Number>0000000009</Number>\n  </Original>\n"
        "  <Reason>多余</Reason>\n  <Handler>",
    ),
    "unknown-element.xml": sub(GOOD, "  <Handler>", "  <Discount>10.00</Discount>\n  <Handler>"),
    "wrong-namespace.xml": sub(GOOD, "urn:union-dues-receipt:1", "urn:union-dues-receipt:2"),
    "issue-time-without-offset.xml": sub(GOOD, "2026-11-28T10:30:00+08:00", "2026-11-28T10:30:00"),
    "name-too-long.xml": sub(GOOD, "宁夏贺兰山实业有限公司", "长" * 101),
    "check-code-upper-case.xml": sub(
        GOOD, "<CheckCode>k3x9q2</CheckCode>", "<CheckCode>K3X9Q2</CheckCode>"
    ),
    "truncated.xml": GOOD[: len(GOOD) // 2],
    "xxe.xml": sub(
        GOOD,
        "<Receipt ",
        '<!DOCTYPE Receipt [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<Receipt ',
    ).replace("李建国", "&xxe;"),
    "billion-laughs.xml": sub(
        GOOD,
        "<Receipt ",
        '<!DOCTYPE Receipt [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>\n'
        "<Receipt ",
    ).replace("李建国", "&d;"),
    "external-dtd.xml": sub(
        GOOD, "<Receipt ", '<!DOCTYPE Receipt SYSTEM "http://198.51.100.7/receipt.dtd">\n<Receipt '
    ),
    "empty.xml": "",
}


# --- oversized inputs (issue 14, defect 10) --------------------------------------------------
# Too big to commit: each is made on demand, cheaply, by tests/test_input_sizes.py, which holds
# the error each must produce and the memory the refusal may take.


def two_gigabytes_sparse_xml(path: Path) -> Path:
    """A 2 GiB "receipt": a sparse file (nothing is written but a start tag), so it takes no disk
    or time to make; a reader that does not check the size first reads 2 GiB of zeros."""
    with open(path, "wb") as handle:
        handle.write(b"<Receipt>")
        handle.truncate(2 * 1024**3)
    return path


def twenty_thousand_small_members_zip(path: Path) -> Path:
    """20,000 members of 64 KiB of zeros each (just under the per-member ratio check), ~3.6 MB
    of zip that inflates to 1.3 GB."""
    blob = _Deflated.of(bytes(65536))
    _raw_zip(path, [(f"receipts/{n:05d}.xml", blob, blob.size) for n in range(20_000)])
    return path


def member_sizes_lie_zip(path: Path) -> Path:
    """One member whose headers declare 1,000 bytes but whose data inflates to 256 MiB."""
    _raw_zip(path, [("receipts/lie.xml", _Deflated.zeros(256), 1000)])
    return path


def attachment_flate_bomb_pdf(path: Path) -> Path:
    """A receipt PDF whose attached receipt.xml is replaced by 256 MiB of zeros, Flate-compressed
    to ~260 KB; its declared /Size is left as it was."""
    import io

    import pikepdf

    from tests.support.pdf import normal_pdf

    bomb = _Deflated.zeros(256)
    with pikepdf.open(io.BytesIO(normal_pdf())) as pdf:
        spec = pikepdf.NameTree(pdf.Root.Names.EmbeddedFiles)["receipt.xml"]
        spec.EF.F.write(bomb.zlib_stream(), filter=pikepdf.Name.FlateDecode)
        pdf.save(path)
    return path


class _Deflated:
    """Raw deflate data made cheaply: zeros are one full-flushed block of 1 MiB repeated (after a
    full flush deflate keeps no history, so the repeated bytes stay valid)."""

    def __init__(self, body: bytes, size: int, crc: int, adler: int) -> None:
        self.body, self.size, self.crc, self.adler = body, size, crc, adler

    @classmethod
    def of(cls, data: bytes) -> _Deflated:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = packer.compress(data) + packer.flush()
        return cls(body, len(data), zlib.crc32(data), zlib.adler32(data))

    @classmethod
    def zeros(cls, mib: int) -> _Deflated:
        block = bytes(1 << 20)
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        chunk = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
        crc, adler = 0, 1
        for _ in range(mib):
            crc, adler = zlib.crc32(block, crc), zlib.adler32(block, adler)
        return cls(chunk * mib + b"\x03\x00", mib << 20, crc, adler)  # + a final empty block

    def zlib_stream(self) -> bytes:
        """The zlib format (header, data, Adler-32) that a PDF's /FlateDecode holds."""
        return b"\x78\xda" + self.body + self.adler.to_bytes(4, "big")


def _raw_zip(path: Path, members: list[tuple[str, _Deflated, int]]) -> None:
    """A zip written by hand, with the declared uncompressed size given (which may lie); its CRC
    is the real data's."""
    local, central = bytearray(), bytearray()
    for name, data, declared in members:
        raw = name.encode()
        head = (20, 0, 8, 0, 0x2821, data.crc, len(data.body), declared, len(raw))
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *head, 0, 0, 0, 0, 0o100644 << 16, len(local)
        )
        central += raw
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, *head, 0) + raw + data.body
    count = len(members)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), len(local), 0)
    path.write_bytes(bytes(local + central + end))


OVERSIZED = {
    "two-gigabytes-sparse.xml": two_gigabytes_sparse_xml,
    "twenty-thousand-small-members.zip": twenty_thousand_small_members_zip,
    "member-sizes-lie.zip": member_sizes_lie_zip,
    "attachment-flate-bomb.pdf": attachment_flate_bomb_pdf,
}
"""Generators of the oversized inputs, by the name of their fault: each writes the file at the
path given and returns it."""


if __name__ == "__main__":
    bad = DATA / "bad"
    bad.mkdir(exist_ok=True)
    for name, text in CASES.items():
        (bad / name).write_text(text, "utf-8")
    print(f"wrote {len(CASES)} files to {bad}")
    # The hostile PAdES PDFs (tests/test_pades_revisions.py holds their findings) need the
    # repository on the path: run this as ``python -m tests.data.make_bad_corpus``.
    from tests.support.hostile_pdf import write_corpus

    print(f"wrote {write_corpus(bad)} signed PDFs and their trust bundle to {bad}")
    # A certificate another province's CA issued, a receipt signed under it, and the trust they
    # are checked against (tests/support/cross_province.py names them).
    from tests.support import cross_province

    print(f"wrote {cross_province.write_corpus(bad)} cross-province files to {bad}")
