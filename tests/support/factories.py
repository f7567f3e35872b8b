"""Builders of valid domain objects for tests; override any field."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from receipts.domain.enums import PayerKind, ReceiptKind, Tier
from receipts.domain.model import Item, Organisation, Payer, Receipt, ReceiptRef

__all__ = ["ACME_USCC", "SHANGHAI", "YINCHUAN", "make_item", "make_receipt", "make_reversal"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
YINCHUAN = Organisation("640100", "银川市总工会", Tier.CITY)
ACME_USCC = "91640100MA7600001J"


def make_item(**overrides: Any) -> Item:
    """Item 01, union dues of 2026-10: 2% of 100,000.00."""
    fields: dict[str, Any] = {
        "code": "01",
        "name": "工会经费(拨缴)",
        "period": "2026-10",
        "amount": Decimal("2000.00"),
        "basis": Decimal("100000.00"),
        "rate": Decimal("0.02"),
    }
    fields.update(overrides)
    return Item(**fields)


def make_receipt(**overrides: Any) -> Receipt:
    """A normal 640100 receipt of two items (3,409.50) to an enterprise."""
    fields: dict[str, Any] = {
        "code": "64710126",
        "number": 1,
        "check_code": "k3x9q2",
        "kind": ReceiptKind.NORMAL,
        "issued_at": datetime(2026, 11, 28, 10, 30, 0, tzinfo=SHANGHAI),
        "issuer": YINCHUAN,
        "payer": Payer("宁夏贺兰山实业有限公司", PayerKind.ENTERPRISE, uscc=ACME_USCC),
        "items": (
            make_item(),
            make_item(code="02", name="会员会费", amount=Decimal("1409.50"), basis=None, rate=None),
        ),
        "handler": "张晓梅",
        "reviewer": "李建国",
        "remark": "2026年10月工会经费",
    }
    fields.update(overrides)
    return Receipt(**fields)


def make_reversal(cancelled: Receipt, **overrides: Any) -> Receipt:
    """The red receipt cancelling ``cancelled``, numbered next."""
    fields: dict[str, Any] = {
        "number": cancelled.number + 1,
        "check_code": "r7t5w1",
        "kind": ReceiptKind.REVERSAL,
        "items": tuple(item.negated() for item in cancelled.items),
        "original": ReceiptRef(cancelled.code, cancelled.number),
        "reason": "交款人名称开具错误",
        "remark": "",
    }
    fields.update(overrides)
    return make_receipt(**fields)
