"""Workspaces (docs/formats.md): one organisation's folder of configuration, keys, trust and ledger.

A **federation** workspace issues receipts; a **payer** workspace (an employer's finance office
or a grassroots union) receives, verifies and books them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli_w

from receipts.domain.catalogue import Catalogue
from receipts.domain.enums import Tier
from receipts.domain.finance_rules import RuleOverrides
from receipts.domain.finance_rules_codec import overrides_from_toml
from receipts.domain.identifiers import DEFAULT_CATEGORY, DEFAULT_SERIES, validate_uscc
from receipts.domain.model import Organisation, check_text
from receipts.domain.money import parse_amount
from receipts.domain.qr_url import canonical_base_url
from receipts.errors import ConfigurationError, InvalidInput, WorkspaceError
from receipts.support.atomic import write_atomic

__all__ = ["CONFIG_NAME", "Workspace", "WorkspaceConfig", "WorkspaceKind", "default_home"]

CONFIG_NAME = "receipts.toml"
DEFAULT_TIMEZONE = "Asia/Shanghai"
_SUBDIRS = ("keys", "certs", "trust", "logs", "out")
#: Folders only the workspace's owner may enter (docs/security.md, "Keys at rest and file modes"):
#: the root (it holds the SQLite ledger, every payer's records), the keys and the logs (tracebacks
#: quote the data they failed on).
_PRIVATE_DIRS = ("", "keys", "logs")
_PRIVATE_DIR_MODE = 0o700


class WorkspaceKind(StrEnum):
    """What a workspace is for."""

    FEDERATION = "federation"
    PAYER = "payer"


@dataclass(frozen=True)
class WorkspaceConfig:
    """The content of ``receipts.toml``."""

    kind: WorkspaceKind
    """Federation (issues) or payer (books)."""
    name: str
    """The organisation's name."""
    org_code: str | None = None
    """Division code of a federation; None for a payer."""
    tier: Tier | None = None
    """Tier of a federation; None for a payer."""
    uscc: str | None = None
    """统一社会信用代码 (required for a payer)."""
    timezone: str = DEFAULT_TIMEZONE
    """Calendar of issue times and receipt-code years."""
    category: str = DEFAULT_CATEGORY
    """Receipt category part of the code."""
    series: str = DEFAULT_SERIES
    """Series part of the code."""
    catalogue: dict[str, str] = field(default_factory=dict)
    """Items beyond the default catalogue, code → name."""
    font: str | None = None
    """A fuller TrueType font for rendering, instead of the shipped one."""
    approvals: dict[str, Any] = field(default_factory=dict)
    """The ``[approvals]`` table: a batch file of more receipts than ``batch_receipts`` (default
    100) or a larger total than ``batch_total`` (default "1000000.00") needs a reviewer's
    approval in a workspace with operators (docs/operations.md)."""
    rules: dict[str, Any] = field(default_factory=dict)
    """The ``[rules]`` table: union-finance rules over the national defaults (a province, the
    national federation) or tightening its province's (a city); docs/formats.md."""
    serve: dict[str, Any] = field(default_factory=dict)
    """The ``[serve]`` table as written: ``receipts serve`` (receipts.node.config) reads its
    keys; ``public_base_url`` is validated here, since issuing signs it into receipts."""
    vouchers: dict[str, Any] = field(default_factory=dict)
    """The ``[vouchers]`` table as written: account codes of ``voucher export`` over the shipped
    defaults, read and validated by receipts.vouchers.accounts (docs/vouchers.md)."""
    smtp: dict[str, Any] = field(default_factory=dict)
    """The ``[smtp]`` table as written: ``receipts deliver`` (receipts.delivery.config) reads
    and validates it (docs/delivery.md)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", WorkspaceKind(self.kind))
        check_text(self.name, "name", maximum=100)
        if self.kind is WorkspaceKind.FEDERATION:
            if self.org_code is None or self.tier is None:
                raise InvalidInput("a federation workspace needs an org code and a tier")
            self.organisation()  # validates code, tier and USCC together
        else:
            if self.uscc is None:
                raise InvalidInput("a payer workspace needs the payer's USCC")
            object.__setattr__(self, "uscc", validate_uscc(self.uscc))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown time zone {self.timezone!r}") from None
        for part, value in (("category", self.category), ("series", self.series)):
            if not (len(value) == 2 and value.isdigit()):
                raise InvalidInput(f"receipt {part} {value!r} must be 2 digits")
        Catalogue(self.catalogue)
        self.batch_threshold  # noqa: B018 (validates [approvals])
        overrides_from_toml(self.rules)
        self.public_base_url  # noqa: B018 (validates [serve] public_base_url)

    @property
    def public_base_url(self) -> str | None:
        """``[serve] public_base_url`` in canonical form: signed into every receipt issued, its
        QR code a URL under it (docs/formats.md, "The QR URL"); None when not configured."""
        value = self.serve.get("public_base_url")
        if value is None:
            return None
        return canonical_base_url(value, "[serve] public_base_url")

    def organisation(self) -> Organisation:
        """The federation this workspace belongs to."""
        if self.org_code is None or self.tier is None:
            raise WorkspaceError("this is a payer workspace, not a federation's")
        return Organisation(self.org_code, self.name, self.tier, self.uscc)

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    @property
    def batch_threshold(self) -> tuple[int, Decimal]:
        """``[approvals]``: (receipts, total) above which a batch needs a reviewer's approval."""
        unknown = set(self.approvals) - {"batch_receipts", "batch_total"}
        if unknown:
            raise InvalidInput(f"unknown keys in [approvals]: {', '.join(sorted(unknown))}")
        receipts = self.approvals.get("batch_receipts", 100)
        if isinstance(receipts, bool) or not isinstance(receipts, int) or receipts < 0:
            raise InvalidInput("[approvals] batch_receipts must be a whole number, 0 or more")
        total = self.approvals.get("batch_total", "1000000.00")
        if not isinstance(total, str):
            raise InvalidInput('[approvals] batch_total must be an amount in quotes: "1000000.00"')
        return receipts, parse_amount(total)

    @property
    def rule_overrides(self) -> RuleOverrides:
        """The ``[rules]`` table, validated."""
        return overrides_from_toml(self.rules)

    def to_toml(self) -> dict[str, Any]:
        """The TOML document."""
        section: dict[str, Any] = {"kind": self.kind.value, "name": self.name}
        if self.org_code is not None and self.tier is not None:
            section["org_code"] = self.org_code
            section["tier"] = self.tier.value
        if self.uscc:
            section["uscc"] = self.uscc
        section["timezone"] = self.timezone
        doc: dict[str, Any] = {
            "workspace": section,
            "receipts": {"category": self.category, "series": self.series},
            "catalogue": dict(self.catalogue),
        }
        if self.font:
            doc["render"] = {"font": self.font}
        if self.approvals:
            doc["approvals"] = dict(self.approvals)
        if self.rules:
            doc["rules"] = dict(self.rules)
        if self.serve:
            doc["serve"] = dict(self.serve)
        if self.vouchers:
            doc["vouchers"] = dict(self.vouchers)
        if self.smtp:
            doc["smtp"] = dict(self.smtp)
        return doc

    @classmethod
    def from_toml(cls, doc: dict[str, Any]) -> WorkspaceConfig:
        """Read the TOML document (already parsed), refusing unknown keys."""
        ws = dict(doc.get("workspace", {}))
        rec = dict(doc.get("receipts", {}))
        render = dict(doc.get("render", {}))
        catalogue = doc.get("catalogue", {})
        known = {"kind", "name", "org_code", "tier", "uscc", "timezone"}
        unknown = (set(ws) - known) | (set(rec) - {"category", "series"}) | (set(render) - {"font"})
        # [serve] is read and validated by receipts.node.config (`receipts serve`); its
        # public_base_url also here (WorkspaceConfig.public_base_url), since issuing signs it.
        tables = {"workspace", "receipts", "render", "catalogue", "rules", "approvals", "serve"}
        tables.add("vouchers")  # read by receipts.vouchers.accounts (`voucher export`)
        tables.add("smtp")  # read and validated by receipts.delivery.config (`receipts deliver`)
        # [upstream], [issuers]: the nodes this workspace calls (receipts.transmission.node_urls).
        # [tsa]: read and validated by receipts.tsa.config (the time-stamp authority).
        # [transmission]: by receipts.transmission.import_settings (package limits, workers).
        unknown |= set(doc) - tables - {"upstream", "issuers", "tsa", "transmission"}
        if unknown:
            raise InvalidInput(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        if not isinstance(catalogue, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in catalogue.items()
        ):
            raise InvalidInput("[catalogue] must map item codes to names")
        rules = doc.get("rules", {})
        if not isinstance(rules, dict):
            raise InvalidInput("[rules] must be a table")
        try:
            return cls(
                kind=WorkspaceKind(ws["kind"]),
                name=ws["name"],
                org_code=ws.get("org_code"),
                tier=Tier(ws["tier"]) if "tier" in ws else None,
                uscc=ws.get("uscc"),
                timezone=ws.get("timezone", DEFAULT_TIMEZONE),
                category=rec.get("category", DEFAULT_CATEGORY),
                series=rec.get("series", DEFAULT_SERIES),
                catalogue=dict(catalogue),
                font=render.get("font"),
                approvals=_table(doc, "approvals"),
                rules=dict(rules),
                serve=_table(doc, "serve"),
                vouchers=_table(doc, "vouchers"),
                smtp=_table(doc, "smtp"),
            )
        except KeyError as exc:
            key = exc.args[0]
            raise InvalidInput(f"missing configuration key {key!r} in [workspace]") from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None


def default_home() -> Path:
    """``RECEIPTS_HOME`` or ``./.receipts``."""
    return Path(os.environ.get("RECEIPTS_HOME") or ".receipts")


class Workspace:
    """An organisation's folder: configuration, keys, certificates, trust material, ledger."""

    def __init__(self, home: Path, config: WorkspaceConfig) -> None:
        self.home = home
        self.config = config

    @classmethod
    def create(cls, home: Path, config: WorkspaceConfig) -> Workspace:
        """Create a new workspace; an existing one (or a non-empty folder) is refused.

        The folder itself, ``keys/`` and ``logs/`` are mode 0700 whatever the umask: the root
        holds the SQLite ledger and the encrypted keys, so nobody else may list or open them
        (certificates and receipts meant for others are exported with ``-o`` elsewhere).
        """
        if (home / CONFIG_NAME).exists():
            raise WorkspaceError(f"{home} is already a workspace; refusing to initialise it again")
        if home.exists() and any(home.iterdir()):
            raise WorkspaceError(f"{home} exists and is not empty")
        home.mkdir(parents=True, exist_ok=True)
        for sub in _SUBDIRS:
            (home / sub).mkdir(exist_ok=True)
        for sub in _PRIVATE_DIRS:
            os.chmod(home / sub, _PRIVATE_DIR_MODE)
        write_atomic(home / CONFIG_NAME, tomli_w.dumps(config.to_toml()).encode("utf-8"))
        return cls(home, config)

    @classmethod
    def open(cls, home: Path) -> Workspace:
        """Open an existing workspace."""
        path = home / CONFIG_NAME
        if not path.is_file():
            raise WorkspaceError(
                f"{home} is not a workspace (no {CONFIG_NAME}); run 'receipts init' or pass --home"
            )
        try:
            doc = tomllib.loads(path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"{path}: {exc}") from None
        try:
            config = WorkspaceConfig.from_toml(doc)
        except InvalidInput as exc:
            raise ConfigurationError(f"{path}: {exc}") from None
        return cls(home, config)

    @property
    def kind(self) -> WorkspaceKind:
        """Federation or payer."""
        return self.config.kind

    @property
    def keys_dir(self) -> Path:
        """Encrypted private keys."""
        return self.home / "keys"

    @property
    def certs_dir(self) -> Path:
        """This organisation's certificates and chains."""
        return self.home / "certs"

    @property
    def trust_dir(self) -> Path:
        """Trust anchors, CRLs, other federations' certificates."""
        return self.home / "trust"

    @property
    def log_path(self) -> Path:
        """Where tracebacks go (never to the user's terminal)."""
        return self.home / "logs" / "receipts.log"

    @property
    def out_dir(self) -> Path:
        """Default folder for files the workspace writes (PDFs, packages, reports)."""
        return self.home / "out"

    @property
    def catalogue(self) -> Catalogue:
        """Default items plus the configured ones."""
        return Catalogue(self.config.catalogue)

    @property
    def ledger_owner(self) -> str:
        """Whose ledger this is: the federation's org code, or the payer's USCC."""
        owner = self.config.org_code or self.config.uscc
        assert owner is not None  # the configuration requires one of them
        return owner

    def require(self, kind: WorkspaceKind) -> Workspace:
        """Refuse a command meant for the other kind of workspace."""
        if self.kind is not kind:
            raise WorkspaceError(f"{self.home} is a {self.kind} workspace; this needs a {kind} one")
        return self


def _table(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The TOML table ``[name]`` (empty when absent)."""
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise InvalidInput(f"[{name}] must be a table")
    return dict(table)
