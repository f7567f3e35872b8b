"""Write the legacy fixtures of this release under ``tests/data/legacy/`` (issue 18, item 2).

    PYTHONPATH=. .venv/bin/python tools/make_legacy_fixtures.py            (write them)
    PYTHONPATH=. .venv/bin/python tools/make_legacy_fixtures.py --check    (re-render, compare)

For every layout version this release renders: the signed XML and its PDF, ordinary and red
(a reversal), the ordinary one PAdES-signed, rendered with a fuller font (Debian's
``/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc``, as a workspace configures it with
``font = …`` in ``receipts.toml``), and a payer name with rare characters (䶮 U+4DAE and 㛃
U+36C3, CJK Extension A, outside the shipped font) in that fuller font; layout 3 also with a
QR URL. ``trust.pem`` holds the certificates they chain to, made for these fixtures only (the
keys are thrown away), and ``SHA256SUMS`` the digest of every file: the files are kept exactly
as written and verified in every run from now on (``tests/test_legacy_fixtures.py``).

The certificates were valid only from 2026-01-01 to 2026-07-01, and everything was signed on
2026-01-15 (the PAdES signing time too): a fixture verifies only because verification is as of
signing time, so nothing in it expires while it is verified in 2056.

Running this again writes new keys and so new files: do so only for a new release's fixtures
(into a new folder), never over the old ones. ``--check`` writes nothing: it renders every
unsigned fixture PDF's attached XML afresh (its layout version, the fuller font where it was
used) and names those whose bytes differ (exit 1), for upgrading a rendering library
(docs/operations.md); they must still verify by content either way.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from receipts.domain.model import Payer, QRSeal, Receipt
from receipts.domain.xmlcodec import qr_payload, receipt_to_element, serialize
from receipts.render.layout import LAYOUTS
from receipts.render.receipt_pdf import render_pdf, sign_pdf
from signing.certificate_profile import key_id
from signing.certificates import CertificateRole, create_csr, create_root_ca, issue_certificate
from signing.keys import generate_key
from signing.seal import sign_seal
from signing.trust import TrustBundle
from signing.xmldsig import sign_enveloped
from tests.support.pdf import normal_receipt, reversal_receipt

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "legacy"
FULLER_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
START = datetime(2026, 1, 1, tzinfo=UTC)
VALIDITY = timedelta(days=181)  # to 2026-07-01
SIGNED_AT = datetime(2026, 1, 15, 2, 30, tzinfo=UTC)  # 10:30 in Yinchuan
RARE_NAME = "宁夏䶮㛃贺兰山实业有限公司"
QR_BASE_URL = "https://receipts.example.cn"


def main() -> None:
    if not FULLER_FONT.exists():
        sys.exit(f"{FULLER_FONT} is not installed (Debian: fonts-wqy-zenhei)")
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    OUT.mkdir(parents=True, exist_ok=True)
    signer = _Signer()
    normal = replace(
        normal_receipt(), issued_at=SIGNED_AT.astimezone(normal_receipt().issued_at.tzinfo)
    )
    reversal = replace(reversal_receipt(), issued_at=normal.issued_at)
    rare = replace(normal, payer=Payer(RARE_NAME, normal.payer.kind, uscc=normal.payer.uscc))
    files: dict[str, bytes] = {}
    for version in sorted(LAYOUTS):
        stem = f"v{version}"
        cases: list[tuple[str, Receipt, Path | None]] = [
            ("normal", normal, None),
            ("red", reversal, None),
            ("fuller-font", normal, FULLER_FONT),
            ("rare-name", rare, FULLER_FONT),
        ]
        if version >= 3:
            cases.append(("qr-url", replace(normal, public_base_url=QR_BASE_URL), None))
        for name, receipt, font in cases:
            xml = signer.sign(receipt)
            pdf = render_pdf(xml, font_path=font, layout_version=version)
            files[f"{stem}-{name}.xml"] = xml
            files[f"{stem}-{name}.pdf"] = pdf
            if name == "normal":
                files[f"{stem}-pades.pdf"] = signer.sign_pdf(pdf)
    files["trust.pem"] = signer.trust
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(files.items()))
    (OUT / "SHA256SUMS").write_text(sums, encoding="ascii")
    print("wrote", len(files) + 1, "files to", OUT.relative_to(ROOT))


def check() -> int:
    """Re-render every unsigned fixture PDF; 1 when any differs from the committed bytes."""
    from receipts.render.receipt_pdf import extract_xml, read_layout_version

    differing = []
    for path in sorted(OUT.glob("*.pdf")):
        if "pades" in path.name:
            continue  # a signature is not reproducible; its rendered revision is another file's
        data = path.read_bytes()
        font = FULLER_FONT if "fuller-font" in path.name or "rare-name" in path.name else None
        version = read_layout_version(data)
        if render_pdf(extract_xml(data), font_path=font, layout_version=version) != data:
            differing.append(path.name)
    for name in differing:
        print(f"{name}: a fresh render differs from the committed bytes")
    print(f"{len(differing)} of the legacy PDFs re-render differently")
    return 1 if differing else 0


class _Signer:
    """A PKI of its own: root, provincial CA, the 640100 signing certificate."""

    def __init__(self) -> None:
        root_key = generate_key()
        root = create_root_ca(root_key, "中华全国总工会", now=START, validity=VALIDITY)
        prov_key = generate_key()
        prov_csr = create_csr(
            prov_key, "640000", "宁夏回族自治区总工会", CertificateRole.PROVINCIAL_CA
        )
        prov = issue_certificate(
            root,
            root_key,
            prov_csr,
            CertificateRole.PROVINCIAL_CA,
            requester_upstream="000000",
            now=START,
            validity=VALIDITY,
        )
        self.key = generate_key()
        csr = create_csr(self.key, "640100", "银川市总工会", CertificateRole.SIGNING)
        self.cert = issue_certificate(
            prov,
            prov_key,
            csr,
            CertificateRole.SIGNING,
            requester_upstream="640000",
            now=START,
            validity=VALIDITY,
        )
        self.chain = (prov,)
        self.trust = TrustBundle.of([root, prov, self.cert]).to_pem()

    def sign(self, receipt: Receipt) -> bytes:
        kid = key_id(self.cert)
        seal = QRSeal(kid, sign_seal(self.key, qr_payload(receipt, kid)))
        element = receipt_to_element(replace(receipt, seal=seal))
        return serialize(sign_enveloped(element, self.key, self.cert, self.chain, SIGNED_AT))

    def sign_pdf(self, pdf: bytes) -> bytes:
        """PAdES with the signing time of the XML: pyHanko takes its clock's, so its clock is
        set for the call (a fixture generator's liberty; the product signs with the time)."""
        from pyhanko.sign.signers import pdf_signer

        namespace = vars(pdf_signer)
        real: Any = namespace["datetime"]

        class Frozen(real):  # type: ignore[misc]
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return SIGNED_AT.astimezone(tz) if tz is not None else SIGNED_AT

        namespace["datetime"] = Frozen
        try:
            return sign_pdf(pdf, self.key, self.cert, self.chain)
        finally:
            namespace["datetime"] = real


if __name__ == "__main__":
    main()
