"""The demo's money steps (issue 17, item 8): 银川's payer register and an Excel batch, declared
wage bills and arrears, a month the tax bureau collected, the 分成 of 银川's receipts and the
settlement up to 宁夏 and the national federation, accounting vouchers, and each new receipt of
one payer delivered to a local mailbox. The files they read are made in
:mod:`receipts.commands.demo_money_files`."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from receipts.commands.demo_mailbox import local_mailbox
from receipts.commands.demo_money_files import (
    MAILBOX_PAYER,
    batch_xlsx,
    payers_xlsx,
    tax_records_csv,
    wages_csv,
)
from receipts.commands.demo_runner import Demo
from receipts.support.atomic import write_atomic

__all__ = ["money"]

_SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def money(demo: Demo) -> None:
    """Every money step, in the order a finance department meets them."""
    month = dt.datetime.now(_SHANGHAI).strftime("%Y-%m")
    register(demo)
    excel_batch(demo)
    tax_month(demo, month)
    settlement(demo, month)
    vouchers(demo, month)
    delivery(demo)


def register(demo: Demo) -> None:
    demo.step("银川's payer register (Excel): declared wage bills, expected dues and arrears")
    payers = Path(demo.path("640100-payers.xlsx"))
    write_atomic(payers, payers_xlsx())
    demo.run("640100", "payer", "import", str(payers), show=True)
    wages = Path(demo.path("640100-wages-2026-10.csv"))
    write_atomic(wages, wages_csv(demo.home("640100")).encode("utf-8"))
    demo.run("640100", "payer", "wages", "import", str(wages), show=True)
    demo.run(
        "640100",
        "payer",
        "arrears",
        "--period",
        "2026-10",
        "--xlsx",
        demo.path("640100-欠缴-2026-10.xlsx"),
        show=8,
    )
    demo.run("640100", "payer", "collection-rate", "--period", "2026-10", show=True)


def excel_batch(demo: Demo) -> None:
    demo.step("An Excel batch (.xlsx, the same columns as CSV) issues twelve more receipts")
    batch = Path(demo.path("640100-batch.xlsx"))
    write_atomic(batch, batch_xlsx(12, 7, "YC-XLSX"))
    demo.run("640100", "issue", "--batch", str(batch), show=True)


def tax_month(demo: Demo, month: str) -> None:
    demo.step(
        "税务代收: the tax bureau's records (GBK CSV) imported; a second receipt for a payer "
        "and 所属期 it collected is refused, naming the tax voucher"
    )
    records = Path(demo.path("640100-税务代收.csv"))
    write_atomic(records, tax_records_csv().encode("gbk"))
    demo.run("640100", "tax", "import", str(records), show=True)
    demo.run("640100", "tax", "income", "--month", month, show=True)
    name, kind, uscc = MAILBOX_PAYER
    demo.run(
        "640100",
        "issue",
        "--payer-name",
        name,
        "--payer-kind",
        kind,
        "--payer-uscc",
        uscc,
        "--item",
        "01:2026-11:9600.00",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
        expect=2,
        show=True,
    )


def settlement(demo: Demo, month: str) -> None:
    demo.step(
        f"分成 and settlement of {month}: 银川's signed statement (上解, 回拨) goes to 宁夏, "
        "which reconciles it with the receipts it holds; a transfer is recorded"
    )
    package = demo.path("640100-to-640000-2.zip")
    demo.run("640100", "transmit", "export", "-o", package)
    demo.run("640000", "transmit", "import", package)
    demo.run("640100", "transmit", "ack", package.removesuffix(".zip") + ".ack.xml")
    statement = demo.path(f"settlement-640100-{month}.xml")
    out = json.loads(
        demo.run("640100", "--json", "settle", "statement", "--period", month, "-o", statement)
    )
    demo.run("640100", "settle", "balance", "--period", month, show=True)
    demo.run("640000", "settle", "import", statement, show=True)
    demo.run("640000", "settle", "reconcile", "--period", month, "--from", "640100", show=True)
    upward = _upward(out)
    demo.run(
        "640100",
        "settle",
        "transfer",
        "--to",
        "640000",
        "--period",
        month,
        "--amount",
        upward,
        "--reference",
        f"YC-{month}",
        show=True,
    )
    demo.run("640100", "settle", "balance", "--period", month, show=True)
    demo.step(f"宁夏's own statement of {month} goes up to the national federation")
    package = demo.path("640000-to-000000-2.zip")
    demo.run("640000", "transmit", "export", "-o", package)
    demo.run("000000", "transmit", "import", package)
    demo.run("640000", "transmit", "ack", package.removesuffix(".zip") + ".ack.xml")
    provincial = demo.path(f"settlement-640000-{month}.xml")
    demo.run("640000", "settle", "statement", "--period", month, "-o", provincial)
    demo.run("000000", "settle", "import", provincial, show=True)
    demo.run("000000", "settle", "reconcile", "--period", month, "--from", "640000", show=True)


def _upward(statement: object) -> str:
    """The upward (上解) total of a ``settle statement --json`` answer, as typed by a clerk."""
    found = _find(statement, "upward")
    if found is None:
        raise ValueError(f"no upward total in {statement!r}")
    return f"{Decimal(str(found)):.2f}"


def _find(value: object, key: str) -> object:
    if isinstance(value, dict):
        if key in value:
            return value[key]
        for inner in value.values():
            found = _find(inner, key)
            if found is not None:
                return found
    if isinstance(value, list):
        for inner in value:
            found = _find(inner, key)
            if found is not None:
                return found
    return None


def vouchers(demo: Demo, month: str) -> None:
    demo.step("Accounting vouchers (记账凭证): 银川's income and settlement, the payer's expense")
    demo.run(
        "640100",
        "voucher",
        "export",
        "--from",
        month,
        "--to",
        month,
        "--xlsx",
        demo.path(f"640100-凭证-{month}.xlsx"),
        show=6,
    )
    demo.run(
        "payer",
        "voucher",
        "export",
        "--from",
        month,
        "--to",
        month,
        "--csv",
        demo.path(f"payer-凭证-{month}.csv"),
        show=4,
    )


def delivery(demo: Demo) -> None:
    name = MAILBOX_PAYER[0]
    demo.step(f"Delivery: {name}'s new receipts mailed to its registered address (local mailbox)")
    home = demo.home("640100")
    with local_mailbox(Path(demo.root) / "mailbox") as (port, count):
        config = home / "receipts.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text
            + "\n[smtp]\n"
            + 'host = "127.0.0.1"\n'
            + f"port = {port}\n"
            + "starttls = false  # the demo's mailbox on loopback; real servers use STARTTLS\n"
            + 'from = "shouju@yinchuan-union.example.cn"\n',
            encoding="utf-8",
        )
        demo.run("640100", "deliver", "--limit", "5", show=True)
        demo.run("640100", "deliver", "--limit", "5", "--dry-run", show=3)
        demo.say(f"        the mailbox holds {count()} message(s): {Path(demo.root) / 'mailbox'}")
