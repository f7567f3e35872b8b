"""Model rules that a single object checks about itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import PayerKind, ReceiptKind, Tier
from receipts.domain.model import Organisation, Payer, ReceiptRef
from receipts.errors import InvalidInput, InvalidReceipt
from tests.support.factories import make_item, make_receipt, make_reversal


def test_receipt_totals_and_capitals() -> None:
    receipt = make_receipt()
    assert receipt.total == Decimal("3409.50")
    assert receipt.capitals == "叁仟肆佰零玖元伍角整"
    assert str(receipt.ref) == "64710126-0000000001"


def test_organisation_rules() -> None:
    city = Organisation("640104", "银川市兴庆区总工会", Tier.CITY)
    assert city.parent == "640100" and city.upstream == "640000"
    assert Organisation("640104", "x", Tier.CITY, parent="640000").parent == "640000"
    with pytest.raises(InvalidInput, match="is city-tier, not provincial"):
        Organisation("640100", "x", Tier.PROVINCIAL)
    with pytest.raises(InvalidInput, match="cannot be the parent"):
        Organisation("640104", "x", Tier.CITY, parent="650100")
    with pytest.raises(InvalidInput, match="not a valid tier"):
        Organisation("640100", "x", "town")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"items": ()}, "a receipt has 1-8 items, not 0"),
        ({"items": (make_item(),) * 9}, "a receipt has 1-8 items, not 9"),
        ({"handler": ""}, "handler must be 1-100 characters, not 0"),
        ({"handler": " 张三"}, "handler must not begin or end with spaces"),
        ({"remark": "x" * 201}, "remark must be 0-200 characters, not 201"),
        ({"remark": "a\x07b"}, "remark contains control character U+0007"),
        ({"code": "65710126"}, "is not of issuer 640100's province"),
        ({"code": "64710125"}, "is not of the year of issue 2026"),
        ({"reason": "why"}, "only a reversal references an original and a reason"),
        ({"kind": "red"}, "'red' is not a valid receipt kind"),
        (
            {"items": (make_item(amount=Decimal("-1.00"), basis=None, rate=None),)},
            "a normal receipt's amounts must be positive",
        ),
    ],
)
def test_receipt_rules(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        make_receipt(**overrides)
    assert message in str(caught.value)


def test_reversal_rules() -> None:
    original = make_receipt()
    reversal = make_reversal(original)
    assert reversal.kind is ReceiptKind.REVERSAL and reversal.total == -original.total
    with pytest.raises(InvalidReceipt, match="must reference"):
        make_reversal(original, original=None)
    with pytest.raises(InvalidInput, match="reversal reason must be 1-200"):
        make_reversal(original, reason="")
    with pytest.raises(InvalidReceipt, match="cannot cancel itself"):
        make_reversal(original, original=ReceiptRef(original.code, original.number + 1))
    with pytest.raises(InvalidReceipt, match="must all be negative"):
        make_reversal(original, items=original.items)


def test_item_rules() -> None:
    with pytest.raises(InvalidInput, match=r"is not basis 100000\.00 × rate 0\.02 = 2000\.00"):
        make_item(amount=Decimal("2000.01"))
    with pytest.raises(InvalidInput, match="basis and rate go together"):
        make_item(rate=None)
    with pytest.raises(InvalidInput, match="item period '2026-1' must be a month"):
        make_item(period="2026-1")
    with pytest.raises(InvalidInput, match="must not be zero"):
        make_item(amount=Decimal("0"), basis=None, rate=None)
    with pytest.raises(InvalidInput, match="fraction of a fen"):
        make_item(amount=Decimal("1.001"), basis=None, rate=None)


def test_payer_rules() -> None:
    assert Payer("张三", PayerKind.INDIVIDUAL, other_id="M-2026-0001").other_id == "M-2026-0001"
    with pytest.raises(InvalidInput, match="either a USCC or another ID"):
        Payer("x", PayerKind.ENTERPRISE, uscc="91110000600037341L", other_id="1")
    with pytest.raises(InvalidInput, match="not a valid payer kind"):
        Payer("x", "company")  # type: ignore[arg-type]


def test_catalogue() -> None:
    catalogue = Catalogue({"10": "困难职工帮扶捐款"})
    assert catalogue.name_of("01") == "工会经费(拨缴)"
    assert catalogue.name_of("10") == "困难职工帮扶捐款"
    with pytest.raises(InvalidInput, match="unknown item code '11'"):
        catalogue.name_of("11")
    with pytest.raises(InvalidInput, match="is a default item"):
        Catalogue({"01": "别的"})
