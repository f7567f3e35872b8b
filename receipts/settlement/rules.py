"""The sharing table a federation adopts (docs/settlement.md, "The table in force"): a province
(or the national federation) adopts its own table from TOML and signs it for the federations
below it; they adopt the signed file after verifying it came from their upstream. Either way
``supersede`` holds: a new table may not change what receipts already issued were shared by."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lxml import etree

from receipts.domain import divisions
from receipts.domain.enums import Tier
from receipts.domain.sharing import SharingRules
from receipts.domain.sharing_codec import rules_from_element, rules_from_toml, rules_to_element
from receipts.domain.signed_documents import verify_document
from receipts.errors import InvalidInput
from receipts.issuing.effective_rules import adopt_sharing_table
from receipts.ledger.database import Database
from receipts.ledger.events import HeadSigner, sign_head
from receipts.pki.signer import ReceiptSigner
from receipts.settlement.shares import check_supersedes
from signing.trust import ChainValidator

__all__ = ["adopt_own_table", "adopt_signed_table", "sign_table", "table_from_toml"]


def table_from_toml(text: bytes) -> SharingRules:
    """The rules a TOML file states (``[sharing]``, docs/sharing.md "The table")."""
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidInput(f"sharing table: not UTF-8 TOML ({error})") from None
    return rules_from_toml(data.get("sharing"))


def sign_table(signer: ReceiptSigner, rules: SharingRules) -> bytes:
    """``rules`` as a signed ``<SharingRules>`` (``schemas/sharing.xsd``) for the federations
    below ``signer``'s."""
    if divisions.tier_of(signer.org_code) is Tier.CITY:
        raise InvalidInput("only a province or the national federation signs a sharing table")
    return signer.sign_document(rules_to_element(rules), datetime.now(UTC).replace(microsecond=0))


def adopt_own_table(
    db: Database, org: str, rules: SharingRules, zone: ZoneInfo, signer: HeadSigner | None
) -> str:
    """A province or the national federation adopts its own table; its digest."""
    if divisions.tier_of(org) is Tier.CITY:
        raise InvalidInput(
            f"{org} takes its sharing table from its province: adopt the signed file it sends"
        )
    document = etree.tostring(rules_to_element(rules), encoding="UTF-8")
    return _adopt(db, document, rules, "own", zone, signer)


def adopt_signed_table(
    db: Database,
    org: str,
    data: bytes,
    validator: ChainValidator,
    zone: ZoneInfo,
    signer: HeadSigner | None,
) -> str:
    """Adopt the signed table ``org``'s upstream sent; its digest."""
    upstream = divisions.upstream_of(org)
    root, _ = verify_document(
        data, validator, expected_org=upstream, schema="sharing.xsd", what="sharing table"
    )
    rules = rules_from_element(root)
    return _adopt(db, data, rules, "upstream", zone, signer)


def _adopt(
    db: Database,
    document: bytes,
    rules: SharingRules,
    origin: str,
    zone: ZoneInfo,
    signer: HeadSigner | None,
) -> str:
    with db.write() as (session, state):
        check_supersedes(session, zone, rules)
        digest = adopt_sharing_table(session, state, document, origin)
        sign_head(session, state, signer)
    return digest
