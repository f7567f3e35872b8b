"""The account codes vouchers are written with: the shipped defaults
(``receipts/data/voucher_accounts.toml``) under a workspace's ``[vouchers]`` table
(docs/vouchers.md, "Configuration").

Nothing here is a constant in code: every code and name comes from the data file or the
workspace. Each side has its own chart: a federation's (《工会会计制度》) for the issuer's vouchers,
an enterprise's (企业会计准则) for a payer's. ``[vouchers]`` may add or rename accounts of the chart
(``accounts``), point items at other accounts, and change the bank account; every account a
voucher uses must be in the chart, so a typo is one error line, never a voucher with a code and no
name (《工会会计制度》 asks for the account's name on every voucher, not the code alone).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from receipts.domain.catalogue import validate_item_code
from receipts.errors import InvalidInput

__all__ = ["Account", "IssuerAccounts", "PayerAccounts", "issuer_accounts", "payer_accounts"]

_CODE = re.compile(r"[0-9]{1,20}")
_TOP_KEYS = {"prefix", "accounts", "issuer", "payer"}
_SETTLEMENT_KEYS = ("upward", "downward")


@dataclass(frozen=True)
class Account:
    """An account of the chart (会计科目)."""

    code: str
    """Its code (科目编码), digits."""
    name: str
    """Its name (科目名称)."""


@dataclass(frozen=True)
class IssuerAccounts:
    """A federation's accounts for its income vouchers (《工会会计制度》)."""

    prefix: str
    """The voucher word (凭证字), ``记``."""
    bank: Account
    """Where receipts' money arrives (银行存款)."""
    income: Mapping[str, Account]
    """Item code → its income account (拨缴经费收入, 会费收入, …)."""
    upward: Account
    """Settlement: what the shares of the tiers above are owed on (上解, 应付上级经费)."""
    downward: Account
    """Settlement: what the shares of the grassroots union (回拨) and of tiers below are owed on
    (应付下级经费)."""

    def income_of(self, item: str) -> Account:
        """The income account of ``item``; an item without one is a configuration error."""
        try:
            return self.income[item]
        except KeyError:
            raise InvalidInput(
                f"item {item} has no income account: add it to [vouchers.issuer.income] in "
                "receipts.toml (docs/vouchers.md)"
            ) from None


@dataclass(frozen=True)
class PayerAccounts:
    """A payer's accounts for the vouchers of its booked receipts (企业会计准则)."""

    prefix: str
    """The voucher word (凭证字)."""
    bank: Account
    """What pays (银行存款)."""
    items: Mapping[str, Account]
    """Item code → the account settled by paying it (应付职工薪酬 for 工会经费)."""

    def account_of(self, item: str) -> Account:
        """The account of ``item``; an item without one is a configuration error."""
        try:
            return self.items[item]
        except KeyError:
            raise InvalidInput(
                f"item {item} has no account: add it to [vouchers.payer.items] in receipts.toml "
                "(docs/vouchers.md)"
            ) from None


def issuer_accounts(config: Mapping[str, Any]) -> IssuerAccounts:
    """The issuer's accounts: the defaults under the ``[vouchers]`` table ``config``."""
    prefix, side = _side(config, "issuer", {"bank", "income", "settlement", "accounts"})
    chart = side["accounts"]
    settlement = _mapping(side["settlement"], "[vouchers.issuer.settlement]")
    unknown = set(settlement) - set(_SETTLEMENT_KEYS)
    if unknown:
        raise InvalidInput(f"unknown keys in [vouchers.issuer.settlement]: {_names(unknown)}")
    where = "[vouchers.issuer.settlement]"
    upward, downward = (_account(chart, settlement[k], f"{where} {k}") for k in _SETTLEMENT_KEYS)
    return IssuerAccounts(
        prefix,
        _account(chart, side["bank"], "[vouchers.issuer] bank"),
        _item_accounts(chart, side["income"], "[vouchers.issuer.income]"),
        upward,
        downward,
    )


def payer_accounts(config: Mapping[str, Any]) -> PayerAccounts:
    """The payer's accounts: the defaults under the ``[vouchers]`` table ``config``."""
    prefix, side = _side(config, "payer", {"bank", "items", "accounts"})
    chart = side["accounts"]
    return PayerAccounts(
        prefix,
        _account(chart, side["bank"], "[vouchers.payer] bank"),
        _item_accounts(chart, side["items"], "[vouchers.payer.items]"),
    )


@cache
def _defaults() -> dict[str, Any]:
    text = resources.files("receipts").joinpath("data/voucher_accounts.toml").read_text("utf-8")
    return tomllib.loads(text)


def _side(config: Mapping[str, Any], name: str, keys: set[str]) -> tuple[str, dict[str, Any]]:
    """The voucher word and the ``name`` side's table, the workspace's keys over the defaults
    (tables merged key by key, so one item can be re-pointed without repeating the others)."""
    config = _mapping(config, "[vouchers]")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        raise InvalidInput(f"unknown keys in [vouchers]: {_names(unknown)}")
    defaults = _defaults()
    prefix = config.get("prefix", defaults["prefix"])
    if not isinstance(prefix, str) or not 1 <= len(prefix) <= 4 or not prefix.strip():
        raise InvalidInput("[vouchers] prefix must be 1 to 4 characters (the voucher word, 记)")
    own = _mapping(config.get(name, {}), f"[vouchers.{name}]")
    unknown = set(own) - keys
    if unknown:
        raise InvalidInput(f"unknown keys in [vouchers.{name}]: {_names(unknown)}")
    side: dict[str, Any] = {}
    for key in keys:
        value = own.get(key, defaults[name][key])
        if isinstance(defaults[name][key], dict):
            table = _mapping(value, f"[vouchers.{name}.{key}]")
            value = {**defaults[name][key], **table}
        side[key] = value
    # [vouchers.accounts] adds to (or renames in) the chart of whichever side this workspace is.
    extra = _mapping(config.get("accounts", {}), "[vouchers.accounts]")
    side["accounts"] = _chart({**side["accounts"], **extra}, name)
    return prefix, side


def _chart(table: Mapping[str, Any], name: str) -> dict[str, str]:
    chart = {}
    for code, title in table.items():
        if not _CODE.fullmatch(code):
            raise InvalidInput(f"account code {code!r} in [vouchers] must be 1 to 20 digits")
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= 60:
            raise InvalidInput(f"account {code} in [vouchers]: name must be 1 to 60 characters")
        chart[code] = title.strip()
    return chart


def _account(chart: Mapping[str, str], code: object, where: str) -> Account:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise InvalidInput(f"{where}: account code {code!r} must be 1 to 20 digits, in quotes")
    if code not in chart:
        raise InvalidInput(
            f"{where}: account {code} is not in the chart; name it in [vouchers.accounts] "
            f'("{code}" = "科目名称")'
        )
    return Account(code, chart[code])


def _item_accounts(
    chart: Mapping[str, str], table: Mapping[str, Any], where: str
) -> Mapping[str, Account]:
    accounts = {}
    for item, code in table.items():
        try:
            validate_item_code(item)
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {exc}") from None
        accounts[item] = _account(chart, code, f"{where} {item}")
    return MappingProxyType(accounts)


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a table")
    return dict(value)


def _names(keys: set[str]) -> str:
    return ", ".join(sorted(keys))
