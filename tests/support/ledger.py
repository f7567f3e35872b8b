"""Helpers for ledger tests: stock a city ledger, build an issuer, write an issue request."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from receipts.audit import AuditTrust
from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import PayerKind, Tier
from receipts.domain.issue_request import IssueRequest
from receipts.domain.model import Item, Organisation, Payer
from receipts.issuing.issue import Issuer
from receipts.issuing.signing_pool import SigningPool
from receipts.issuing.stock_allocation import allocate, import_allocation
from receipts.ledger.database import Database
from receipts.pki.own_certificates import OwnCertificate
from tests.support.ledger_template import sqlite_ledger
from tests.support.tier_pki import tier_pki

__all__ = [
    "NINGXIA",
    "SHANGHAI",
    "YINCHUAN",
    "audit_trust",
    "fixed_clock",
    "make_issuer",
    "month_start",
    "request",
    "stock_city",
]

YINCHUAN = Organisation("640100", "银川市总工会", Tier.CITY)
NINGXIA = Organisation("640000", "宁夏回族自治区总工会", Tier.PROVINCIAL)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def month_start(months_ago: int) -> datetime:
    """The 10th, 09:00 Shanghai, of the month ``months_ago`` months before this one."""
    now = datetime.now(SHANGHAI)
    year, month = now.year, now.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 10, 9, 0, 0, tzinfo=SHANGHAI)


def stock_city(
    city_db: Database,
    tmp: Path,
    count: int = 1000,
    org: Organisation = YINCHUAN,
    year: int | None = None,
) -> bytes:
    """Allocate ``count`` numbers of this year's 6471 code from a province ledger to ``org``."""
    pki = tier_pki()
    # A copy of this process's initialised province ledger (tests.support.ledger_template).
    sqlite_ledger(tmp / "province.sqlite", "640000")
    prov_db = Database(f"sqlite:///{tmp / 'province.sqlite'}")
    year = year or datetime.now(SHANGHAI).year
    _, document = allocate(prov_db, pki.signers["640000"], org, f"647101{year % 100:02d}", count)
    prov_db.dispose()
    import_allocation(city_db, document, pki.validator(), org.code, pki.signers[org.code])
    return document


def make_issuer(org: Organisation = YINCHUAN, workers: int = 1, **kw: Any) -> Issuer:
    """An issuer of ``org`` signing with its key from the tier PKI (trusting its bundle, unless
    ``trust`` says otherwise)."""
    return Issuer(
        organisation=org,
        pool=SigningPool(tier_pki().signers[org.code], workers=workers),
        zone=SHANGHAI,
        catalogue=Catalogue(),
        **{"trust": tier_pki().validator(), **kw},
    )


def audit_trust(org: Organisation = YINCHUAN) -> AuditTrust:
    """What the audit holds ``org``'s ledger against: its tier-PKI signing certificate as its
    own, the tier PKI's bundle, no anchor file."""
    cert = tier_pki().signers[org.code].certificate
    return AuditTrust((OwnCertificate(cert, cert.not_valid_before_utc, False),), tier_pki().bundle)


def request(
    ref: str | None = None,
    amount: str = "2000.00",
    payer: str = "宁夏贺兰山实业有限公司",
    **kw: Any,
) -> IssueRequest:
    """A one-item request (union dues of 2026-10) from an enterprise."""
    fields: dict[str, Any] = {
        "payer": Payer(payer, PayerKind.ENTERPRISE, uscc="91640100MA7600001J"),
        "items": (Item("01", "工会经费(拨缴)", "2026-10", Decimal(amount)),),
        "handler": "张晓梅",
        "reviewer": "李建国",
        "client_ref": ref,
    }
    fields.update(kw)
    return IssueRequest(**fields)


def fixed_clock(moment: datetime) -> Any:
    """A clock for an issuer that always says ``moment`` (in UTC)."""
    return lambda: moment.astimezone(UTC)
