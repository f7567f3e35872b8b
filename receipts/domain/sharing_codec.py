"""Sharing rules in and out of files: the ``[sharing]`` table of a TOML file (every field
validated, each error one line naming where) and the ``<SharingRules>`` element a province signs
into its stock allocations (docs/sharing.md, "The table")."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from importlib.resources import files
from typing import Any

from lxml import etree

from receipts.domain.money import parse_rate
from receipts.domain.sharing import (
    PARTY_ORDER,
    Party,
    PayerSituation,
    RuleVersion,
    ShareRow,
    SharingRules,
)
from receipts.errors import InvalidInput

__all__ = [
    "SHARING_NAMESPACE",
    "default_sharing_rules",
    "rules_from_element",
    "rules_from_toml",
    "rules_to_element",
]

#: The namespace of ``<SharingRules>`` (schemas/sharing.xsd).
SHARING_NAMESPACE = "urn:union-dues-receipt:sharing:1"

_TOP_KEYS = frozenset({"province", "versions"})
_VERSION_KEYS = frozenset({"effective_from", "source", "rows"})
_ROW_KEYS = frozenset({"item", "situation"}) | {p.value for p in Party}
_MAX_VERSIONS = 500
_MAX_ROWS = 1000


def default_sharing_rules() -> SharingRules:
    """The configured default table shipped with the product (receipts/data/sharing_defaults.toml):
    only the 60/40 split is sourced; the tiers' split of the 40% is a marked placeholder until a
    province signs its own (docs/sharing.md, "Defaults")."""
    text = files("receipts").joinpath("data/sharing_defaults.toml").read_text(encoding="utf-8")
    return rules_from_toml(tomllib.loads(text).get("sharing"))


def rules_from_toml(table: object) -> SharingRules:
    """The ``[sharing]`` table; anything wrong raises one line naming it::

    [sharing]
    province = "64"
    [[sharing.versions]]
    effective_from = 2024-01-01
    source = "宁夏回族自治区总工会 …"
    [[sharing.versions.rows]]
    item = "01"
    situation = "enterprise_full"
    grassroots = "60%"
    county = "0"
    city = "28%"
    province = "10%"
    national = "2%"
    """
    if not isinstance(table, Mapping):
        raise InvalidInput("[sharing] must be a table")
    _refuse_unknown(table, _TOP_KEYS, "[sharing]")
    province = table.get("province", "")
    if not isinstance(province, str) or (
        province and not (len(province) == 2 and province.isascii() and province.isdigit())
    ):
        raise InvalidInput(
            f"[sharing] province must be a two-digit division code, not {province!r}"
        )
    versions = table.get("versions")
    if not isinstance(versions, list) or not 1 <= len(versions) <= _MAX_VERSIONS:
        raise InvalidInput(f"[sharing] versions must be a list of 1-{_MAX_VERSIONS} tables")
    return SharingRules(
        tuple(_version(v, f"[sharing] versions[{n}]") for n, v in enumerate(versions)), province
    )


def _refuse_unknown(table: Mapping[str, Any], known: frozenset[str] | set[str], where: str) -> None:
    unknown = sorted(str(key) for key in table if key not in known)
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(unknown)}")


def _version(value: object, where: str) -> RuleVersion:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a table")
    _refuse_unknown(value, _VERSION_KEYS, where)
    effective = _date(value.get("effective_from"), where)
    source = value.get("source", "")
    if not isinstance(source, str) or len(source) > 500:
        raise InvalidInput(f"{where} source must be text of at most 500 characters")
    rows = value.get("rows")
    if not isinstance(rows, list) or not 1 <= len(rows) <= _MAX_ROWS:
        raise InvalidInput(f"{where} rows must be a list of 1-{_MAX_ROWS} tables")
    return RuleVersion.of(
        effective, (_row(r, f"{where} rows[{n}]") for n, r in enumerate(rows)), source
    )


def _date(value: object, where: str) -> date:
    if type(value) is date:
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"{where} effective_from must be a date (YYYY-MM-DD), not {value!r}")


def _row(value: object, where: str) -> ShareRow:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a table")
    unknown = sorted(str(k) for k in value if k not in _ROW_KEYS)
    if unknown:
        raise InvalidInput(f"{where}: unknown party or key {', '.join(unknown)}")
    item, situation = value.get("item"), value.get("situation")
    if not isinstance(item, str) or not isinstance(situation, str):
        raise InvalidInput(f"{where} needs item and situation as text")
    shares: dict[Party, Decimal] = {}
    for party in PARTY_ORDER:
        text = value.get(party.value)
        if text is None:
            raise InvalidInput(f"{where}: no share for {party.value}")
        shares[party] = _share(text, f"{where} {party.value}")
    try:
        return ShareRow(item, PayerSituation(situation), shares)
    except InvalidInput as error:
        raise InvalidInput(f"{where}: {error}") from None


def _share(value: object, where: str) -> Decimal:
    if not isinstance(value, str):
        raise InvalidInput(f'{where} must be a share as text ("60%" or "0.6"), not {value!r}')
    if value.strip().startswith("-"):
        raise InvalidInput(f"{where} share {value} is negative")
    try:
        return parse_rate(value)
    except InvalidInput as error:
        raise InvalidInput(f"{where}: {error}") from None


def rules_to_element(rules: SharingRules, namespace: str = SHARING_NAMESPACE) -> etree._Element:
    """``<SharingRules>`` in ``namespace``: every version and row, parties in their fixed order."""
    ns = f"{{{namespace}}}"
    nsmap: Any = {None: namespace}  # the default namespace; lxml-stubs only allow str keys
    root = etree.Element(ns + "SharingRules", nsmap=nsmap)
    if rules.province:
        root.set("province", rules.province)
    for version in rules.versions:
        v = etree.SubElement(root, ns + "Version", effectiveFrom=version.effective_from.isoformat())
        if version.source:
            etree.SubElement(v, ns + "Source").text = version.source
        for row in version.rows.values():
            r = etree.SubElement(v, ns + "Row", item=row.item, situation=row.situation.value)
            for party in PARTY_ORDER:
                share = row.shares[party]
                text = format(share.normalize(), "f") if share else "0"
                etree.SubElement(r, ns + "Share", party=party.value, fraction=text)
    return root


def rules_from_element(element: etree._Element, namespace: str = SHARING_NAMESPACE) -> SharingRules:
    """The rules a (schema-valid, signed) ``<SharingRules>`` element states, validated again."""
    ns = f"{{{namespace}}}"
    if element.tag != ns + "SharingRules":
        raise InvalidInput(f"not a SharingRules element: {element.tag}")
    versions = []
    for v in element.iterfind(ns + "Version"):
        where = f"sharing version {v.get('effectiveFrom')!r}"
        rows = []
        for r in v.iterfind(ns + "Row"):
            table: dict[str, str] = {"item": r.get("item", ""), "situation": r.get("situation", "")}
            for s in r.iterfind(ns + "Share"):
                party = s.get("party", "")
                if party in table:
                    raise InvalidInput(f"{where}: party {party} stated twice")
                table[party] = s.get("fraction", "")
            rows.append(_row(table, where))
        versions.append(
            RuleVersion.of(
                _date(v.get("effectiveFrom"), where), rows, v.findtext(ns + "Source") or ""
            )
        )
    return SharingRules(tuple(versions), element.get("province", ""))
