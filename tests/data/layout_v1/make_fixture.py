"""Write the layout-1 fixture beside this file (run once, from the repository root, as
``PYTHONPATH=. python tests/data/layout_v1/make_fixture.py``).

``normal.pdf`` and ``normal-pades.pdf`` were rendered (and PAdES-signed) with the code of
layout 1 *before* layout 2 was added, and are kept as they were made: they stand for the
receipts already handed out, which must keep verifying whatever later layouts change
(``tests/test_pdf_layout_v2.py``). ``trust.pem`` holds the certificates they chain to, made for
this fixture only (its keys were thrown away), valid from 2026-01-01 for years.

Running this again writes new keys and so new files: do so only to replace a damaged fixture,
and only from a commit that predates any change to layout 1.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from receipts.domain.model import QRSeal
from receipts.domain.xmlcodec import qr_payload, receipt_to_element, serialize
from receipts.render.receipt_pdf import render_pdf, sign_pdf
from signing.certificate_profile import key_id
from signing.certificates import CertificateRole, create_csr, create_root_ca, issue_certificate
from signing.keys import generate_key
from signing.seal import sign_seal
from signing.trust import TrustBundle
from signing.xmldsig import sign_enveloped
from tests.support.pdf import normal_receipt

HERE = Path(__file__).resolve().parent
START = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> None:
    root_key = generate_key()
    root = create_root_ca(root_key, "中华全国总工会", now=START)
    prov_key = generate_key()
    prov_csr = create_csr(prov_key, "640000", "宁夏回族自治区总工会", CertificateRole.PROVINCIAL_CA)
    prov = issue_certificate(
        root,
        root_key,
        prov_csr,
        CertificateRole.PROVINCIAL_CA,
        requester_upstream="000000",
        now=START,
    )
    city_key = generate_key()
    city_csr = create_csr(city_key, "640100", "银川市总工会", CertificateRole.SIGNING)
    city = issue_certificate(
        prov, prov_key, city_csr, CertificateRole.SIGNING, requester_upstream="640000", now=START
    )
    receipt = normal_receipt()
    kid = key_id(city)
    sealed = replace(receipt, seal=QRSeal(kid, sign_seal(city_key, qr_payload(receipt, kid))))
    xml = serialize(
        sign_enveloped(receipt_to_element(sealed), city_key, city, (prov,), receipt.issued_at)
    )
    pdf = render_pdf(xml, layout_version=1)
    (HERE / "normal.pdf").write_bytes(pdf)
    (HERE / "normal-pades.pdf").write_bytes(sign_pdf(pdf, city_key, city, (prov,)))
    (HERE / "trust.pem").write_bytes(TrustBundle.of([root, prov, city]).to_pem())
    print("wrote", *sorted(p.name for p in HERE.iterdir()))


if __name__ == "__main__":
    main()
