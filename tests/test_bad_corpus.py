"""Every file in tests/data/bad/ is refused with its own precise error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from receipts.domain.signed_documents import chain_validator
from receipts.domain.xmlcodec import parse_receipt_xml
from receipts.errors import InvalidReceipt, SchemaError
from receipts.verify.receipt import verify_receipt_xml
from signing.pem import certificates_from_pem
from signing.trust import TrustBundle
from tests.support import cross_province

BAD = Path(__file__).parent / "data" / "bad"
AMOUNT = r"'-?(0|[1-9][0-9]{0,12})\.[0-9]{2}'"
OUTSIDE_TIER = "certificate-outside-tier"
DOCTYPE = "XML with a DOCTYPE is refused (DTDs and entities are not allowed)"

EXPECTED = {
    "amount-too-large.xml": "line 31: Element 'Amount': [facet 'pattern'] The value "
    f"'99999999999999.00' is not accepted by the pattern {AMOUNT}.",
    "bad-period.xml": "line 22: Element 'Period': [facet 'pattern'] The value '2026-13' is not "
    "accepted by the pattern '[0-9]{4}(-(0[1-9]|1[0-2])(~[0-9]{4}-(0[1-9]|1[0-2]))?|Q[1-4])?'.",
    "basis-times-rate-wrong.xml": "line 19: Item: item amount 2001.00 is not basis 100000.00 × "
    "rate 0.02 = 2000.00",
    "billion-laughs.xml": DOCTYPE,
    "capitals-mismatch.xml": "line 36: Total/Capitals '叁仟肆佰零玖元陆角整' does not match the "
    "total 3409.50 (叁仟肆佰零玖元伍角整)",
    "check-code-upper-case.xml": "line 5: Element 'CheckCode': [facet 'pattern'] The value "
    "'K3X9Q2' is not accepted by the pattern '[0-9a-z]{6}'.",
    "code-of-another-province.xml": "line 2: Receipt: receipt code 65710126 is not of issuer "
    "640100's province (64)",
    "code-of-another-year.xml": "line 2: Receipt: receipt code 64710125 is not of the year of "
    "issue 2026",
    "empty.xml": "XML document is empty",
    "external-dtd.xml": DOCTYPE,
    "fraction-of-fen.xml": "line 31: Element 'Amount': [facet 'pattern'] The value '1409.505' "
    f"is not accepted by the pattern {AMOUNT}.",
    "issue-time-without-offset.xml": "line 7: Element 'IssuedAt': [facet 'pattern'] The value "
    "'2026-11-28T10:30:00' is not accepted by the pattern "
    r"'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+\-][0-9]{2}:[0-9]{2}'.",
    "missing-handler.xml": "line 38: Element 'Reviewer': This element is not expected. "
    "Expected is one of ( Original, Handler ).",
    "name-too-long.xml": "line 14: Element 'Name': [facet 'maxLength'] The value has a length "
    "of '101'; this exceeds the allowed maximum length of '100'.",
    "normal-with-original.xml": "line 2: Receipt: only a reversal references an original and a "
    "reason",
    "not-a-province.xml": "line 8: Issuer: organisation code '990100': '99' is not a "
    "province-level code",
    "public-base-url-http.xml": "line 2: Receipt: public base URL "
    "'http://ghzs.yinchuan.example.cn' must use https (http only for a loopback host)",
    "public-base-url-with-query.xml": "line 41: Element 'PublicBaseUrl': [facet 'pattern'] The "
    "value 'https://ghzs.yinchuan.example.cn/?r=1' is not accepted by the pattern "
    r"'https?://[a-z0-9.\-\[\]:]+(/[A-Za-z0-9._~\-]+)*'.",
    "reversal-with-positive-amounts.xml": "line 2: Receipt: a reversal's amounts must all be "
    "negative",
    "reversal-without-original.xml": "line 2: Receipt: a reversal must reference the receipt it "
    "cancels",
    "tier-mismatch.xml": "line 8: Issuer: organisation 640100 is city-tier, not provincial",
    "too-many-items.xml": "line 69: Element 'Item': This element is not expected.",
    "total-not-sum.xml": "line 35: Total/Amount 3409.60 is not the sum of the items 3409.50",
    "truncated.xml": "malformed XML: line 20: Couldn't find end of Start Tag C line 20, line 20, "
    "column 9",
    "unknown-element.xml": "line 38: Element 'Discount': This element is not expected. Expected "
    "is one of ( Original, Handler ).",
    "uscc-wrong-check-character.xml": "line 13: Payer: USCC '91640100MA7600001K' has a wrong "
    "check character (expected J)",
    "wrong-namespace.xml": "line 2: Element '{urn:union-dues-receipt:2}Receipt': No matching "
    "global declaration available for the validation root.",
    "xxe.xml": DOCTYPE,
}

SCHEMA_CASES = {name for name, message in EXPECTED.items() if "Element '" in message}


def test_corpus_and_table_agree() -> None:
    signed = {cross_province.RECEIPT_FILE}  # well-formed: refused at verification, below
    assert sorted(p.name for p in BAD.glob("*.xml")) == sorted({*EXPECTED, *signed})


def test_cross_province_certificate_and_its_receipt_are_refused() -> None:
    validator = chain_validator(TrustBundle.load(BAD / cross_province.TRUST_FILE))
    cert, ca = certificates_from_pem((BAD / cross_province.CERTIFICATE_FILE).read_bytes())
    at = cert.not_valid_before_utc + timedelta(hours=1)
    assert [f.code for f in validator.validate(cert, [ca], at=at).findings] == [OUTSIDE_TIER]
    receipt = (BAD / cross_province.RECEIPT_FILE).read_bytes()
    result = verify_receipt_xml(receipt, validator, cross_province.RECEIPT_FILE)
    assert [f.code for f in result.findings] == [OUTSIDE_TIER]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_refused_with_its_error(name: str) -> None:
    with pytest.raises(InvalidReceipt) as caught:
        parse_receipt_xml((BAD / name).read_bytes())
    assert str(caught.value) == EXPECTED[name]
    assert isinstance(caught.value, SchemaError) == (name in SCHEMA_CASES)
