"""The item catalogue: what a receipt line may be for. A workspace's configuration can extend it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from receipts.errors import InvalidInput

__all__ = ["DEFAULT_CATALOGUE", "Catalogue", "validate_item_code"]

#: Items every federation knows.
DEFAULT_CATALOGUE: Mapping[str, str] = MappingProxyType(
    {
        "01": "工会经费(拨缴)",
        "02": "会员会费",
        "03": "建会筹备金",
        "99": "其他",
    }
)

_ITEM_CODE = re.compile(r"[0-9]{2,4}")


def validate_item_code(code: str) -> str:
    """An item catalogue code: 2 to 4 digits."""
    if not isinstance(code, str) or not _ITEM_CODE.fullmatch(code):
        raise InvalidInput(f"item code {code!r} must be 2 to 4 digits")
    return code


class Catalogue:
    """Item codes and names: the defaults plus a workspace's own (which may not redefine them)."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        items = dict(DEFAULT_CATALOGUE)
        for code, name in (extra or {}).items():
            validate_item_code(code)
            if code in DEFAULT_CATALOGUE and DEFAULT_CATALOGUE[code] != name:
                default = DEFAULT_CATALOGUE[code]
                raise InvalidInput(f"item code {code} is a default item ({default})")
            if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
                raise InvalidInput(f"item {code}: name must be 1-100 characters")
            items[code] = name
        self._items = MappingProxyType(items)

    @property
    def items(self) -> Mapping[str, str]:
        """Code → name."""
        return self._items

    def name_of(self, code: str) -> str:
        """The catalogue name of ``code``; an unknown code is an input error."""
        try:
            return self._items[validate_item_code(code)]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise InvalidInput(f"unknown item code {code!r} (known: {known})") from None
