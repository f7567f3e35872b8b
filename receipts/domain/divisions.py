"""Administrative division codes (GB/T 2260) and the organisation rules derived from them.

An organisation is identified by its 6-digit division code: province ``XX0000``, city ``XXYY00``,
county/district ``XXYYZZ``; the national federation is ``000000`` (docs/formats.md).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

from receipts.domain.enums import Tier
from receipts.errors import InvalidInput

__all__ = [
    "MUNICIPALITIES",
    "NATIONAL",
    "PROVINCES",
    "KnownFederation",
    "administrative_parent",
    "issuer_may_certify",
    "known_federation",
    "known_federations",
    "province_of",
    "tier_of",
    "upstream_of",
    "validate_division_code",
]

NATIONAL = "000000"

#: Province-level codes of the 31 provincial federations of the ACFTU (GB/T 2260). Taiwan (71),
#: Hong Kong (81) and Macao (82) have division codes but no federation in this system.
PROVINCES: frozenset[str] = frozenset(
    {
        *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36"),
        *("37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62"),
        *("63", "64", "65"),
    }
)

#: Municipalities directly under the central government: their districts and counties sit
#: directly under the municipality (e.g. 120113 under 120000).
MUNICIPALITIES: frozenset[str] = frozenset({"11", "12", "31", "50"})

_CODE = re.compile(r"[0-9]{6}")


def validate_division_code(code: str, *, what: str = "organisation code") -> str:
    """Return ``code`` if it is a valid division code, else raise :class:`InvalidInput`."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidInput(f"{what} {code!r} must be 6 digits (GB/T 2260 division code)")
    if code == NATIONAL:
        return code
    if code[:2] not in PROVINCES:
        raise InvalidInput(f"{what} {code!r}: {code[:2]!r} is not a province-level code")
    if code[2:4] == "00" and code[4:] != "00":
        raise InvalidInput(f"{what} {code!r}: a county code needs a city or prefecture part")
    return code


def tier_of(code: str) -> Tier:
    """The federation tier an organisation code belongs to."""
    validate_division_code(code)
    if code == NATIONAL:
        return Tier.NATIONAL
    if code[2:] == "0000":
        return Tier.PROVINCIAL
    return Tier.CITY


def province_of(code: str) -> str:
    """Two-digit province part (``00`` for the national federation)."""
    return validate_division_code(code)[:2]


def administrative_parent(code: str) -> str | None:
    """The administrative parent: a county's city, a city's province, a province's nation.

    Districts and counties of a municipality, and county-level units administered directly by
    a province (``XX90ZZ``), sit directly under the province.
    """
    validate_division_code(code)
    if code == NATIONAL:
        return None
    province = code[:2] + "0000"
    if code == province:
        return NATIONAL
    if code[4:] == "00" or code[:2] in MUNICIPALITIES or code[2:4] == "90":
        return province
    return code[:4] + "00"


def upstream_of(code: str) -> str | None:
    """Where an organisation gets stock from, transmits to and is certified by.

    Every city-tier federation (city, county or district) answers to its province; a province
    to the national federation; the national federation to nobody.
    """
    tier = tier_of(code)
    if tier is Tier.NATIONAL:
        return None
    if tier is Tier.PROVINCIAL:
        return NATIONAL
    return code[:2] + "0000"


def issuer_may_certify(issuer: str, subject: str) -> bool:
    """Whether the CA of organisation ``issuer`` may certify organisation ``subject``.

    Exactly what issuance allows (:func:`receipts.pki.ca.issue_from_request` and the tier checks of
    ``signing.certificates``): a CA certifies its own organisation's signing certificate and the
    organisations whose upstream it is. So the national root certifies provincial CAs, and a
    provincial CA ``XX0000`` certifies its own signing certificate and the city, county and
    district federations ``XX....`` of its province, never another province's. Verification
    applies it to every link of a chain (docs/security.md); an invalid code is never certified.
    """
    try:
        validate_division_code(issuer, what="issuer organisation code")
        validate_division_code(subject, what="subject organisation code")
    except InvalidInput:
        return False
    return subject == issuer or upstream_of(subject) == issuer


@dataclass(frozen=True)
class KnownFederation:
    """A real federation from the shipped reference list."""

    code: str
    """Division code."""
    name: str
    """Official name, e.g. 银川市总工会."""
    tier: Tier
    """Tier in the federation hierarchy."""
    parent: str | None
    """Administrative parent's code (None for the national federation)."""


@functools.lru_cache(maxsize=1)
def known_federations() -> dict[str, KnownFederation]:
    """The federations listed in ``receipts/data/divisions.csv``, by code."""
    text = resources.files("receipts").joinpath("data/divisions.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {
        row["code"]: KnownFederation(
            code=row["code"], name=row["name"], tier=Tier(row["tier"]), parent=row["parent"] or None
        )
        for row in rows
    }


def known_federation(code: str) -> KnownFederation | None:
    """The reference entry for ``code``, if it is in the shipped list."""
    return known_federations().get(code)
