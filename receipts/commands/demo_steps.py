"""The scenario of ``receipts demo``, step by step: workspaces, PKI, stock, issuing,
transmission, offline audit, booking, reconciliation and month end, each through the commands a
federation would type."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from receipts.commands.demo_files import bank_statement, batch_csv
from receipts.commands.demo_runner import Demo
from receipts.domain.divisions import known_federation
from receipts.support.atomic import write_atomic

__all__ = [
    "audit_offline",
    "book",
    "close_and_archive",
    "issue",
    "pki",
    "reconcile",
    "stock",
    "transmit",
    "workspaces",
]

_SHANGHAI = dt.timezone(dt.timedelta(hours=8))
PAYER_NAME = "宁夏贺兰山实业有限公司"
PAYER_USCC = "91640100MA7600001J"
ORGS = ("000000", "640000", "640100", "640104")


def workspaces(demo: Demo) -> None:
    demo.step("Workspaces: the national federation, 宁夏, 银川, 兴庆区, and an enterprise payer")
    for org in ORGS:
        known = known_federation(org)
        assert known is not None
        demo.run(org, "init", "--org", org, "--name", known.name)
    demo.run("payer", "init", "--payer", "--name", PAYER_NAME, "--uscc", PAYER_USCC)


def pki(demo: Demo) -> None:
    demo.step("PKI: the national root certifies 宁夏's CA; each federation gets a signing key")
    env = "--allow-env-passphrase"
    demo.run("000000", "pki", "init-root", env)
    demo.run("640000", "pki", "csr", "--ca", "-o", demo.path("640000-ca.csr"), env)
    demo.run(
        "000000",
        "pki",
        "issue-cert",
        demo.path("640000-ca.csr"),
        "-o",
        demo.path("640000-ca.pem"),
        env,
    )
    root_pem = str(demo.home("000000") / "certs" / "ca.pem")
    demo.run("640000", "pki", "import-cert", demo.path("640000-ca.pem"), "--root", root_pem)
    demo.run("000000", "pki", "csr", "-o", demo.path("000000.csr"))
    demo.run(
        "000000", "pki", "issue-cert", demo.path("000000.csr"), "-o", demo.path("000000.pem"), env
    )
    demo.run("000000", "pki", "import-cert", demo.path("000000.pem"))
    for org in ("640000", "640100", "640104"):
        demo.run(org, "pki", "csr", "-o", demo.path(f"{org}.csr"))
        demo.run(
            "640000",
            "pki",
            "issue-cert",
            demo.path(f"{org}.csr"),
            "-o",
            demo.path(f"{org}.pem"),
            env,
        )
        extra = [] if org == "640000" else ["--root", root_pem]
        demo.run(org, "pki", "import-cert", demo.path(f"{org}.pem"), *extra)
    demo.run("640000", "pki", "crl", "-o", demo.path("640000.crl"), env)
    demo.run("000000", "pki", "crl", "-o", demo.path("000000.crl"), env)
    demo.run("640000", "pki", "export-trust", "-o", demo.path("640000-trust.pem"))
    demo.run("000000", "pki", "import-trust", demo.path("640000-trust.pem"))
    demo.run("000000", "pki", "export-trust", "-o", demo.path("national-trust.pem"))
    for where in ("640000", "640100", "640104", "payer"):
        demo.run(where, "pki", "import-trust", demo.path("national-trust.pem"))


def stock(demo: Demo) -> None:
    demo.step("Stock: 宁夏 allocates number segments of its receipt code; holders import them")
    for child in ("640100", "640104"):
        demo.run("640000", "org", "add", "--code", child)
        demo.run(
            "640000",
            "stock",
            "allocate",
            "--to",
            child,
            "--count",
            "1000",
            "-o",
            demo.path(f"{child}-stock.xml"),
        )
        demo.run(child, "stock", "import", demo.path(f"{child}-stock.xml"))
    demo.run("640000", "stock", "allocate", "--to", "640000", "--count", "100")
    demo.run("000000", "stock", "allocate", "--to", "000000", "--count", "100")
    demo.run("640100", "stock", "list", show=True)


def issue(demo: Demo) -> tuple[str, str]:
    demo.step(
        "Issuing: 银川 issues a monthly batch (CSV, GBK as spreadsheets export it), "
        "兴庆区 and 宁夏 issue too"
    )
    city_csv = Path(demo.path("640100-batch.csv"))
    write_atomic(city_csv, batch_csv(150, 1, "YC-2026-10").encode("gbk"))
    demo.run("640100", "issue", "--batch", str(city_csv), show=True)
    demo.step("Rerunning the same batch issues nothing twice")
    demo.run("640100", "issue", "--batch", str(city_csv), show=True)
    county_csv = Path(demo.path("640104-batch.csv"))
    write_atomic(county_csv, batch_csv(40, 2, "XQ-2026-10").encode("utf-8-sig"))
    demo.run("640104", "issue", "--batch", str(county_csv))
    for n in range(5):
        demo.run(
            "640000",
            "issue",
            "--payer-name",
            "宁夏塞上江南建设集团有限公司",
            "--payer-kind",
            "enterprise",
            "--payer-uscc",
            "91640000MA7600003K",
            "--item",
            f"03:2026-10:{1200 + n * 100}.00",
            "--handler",
            "马丽",
            "--reviewer",
            "杨帆",
            "--client-ref",
            f"NX-{n}",
        )
    one = json.loads(
        demo.run(
            "640100",
            "--json",
            "issue",
            "--payer-name",
            PAYER_NAME,
            "--payer-kind",
            "enterprise",
            "--payer-uscc",
            PAYER_USCC,
            "--item",
            "01:2026-10:500000.00*0.02",
            "--item",
            "02:2026-10:1409.50",
            "--handler",
            "张晓梅",
            "--reviewer",
            "李建国",
            "--client-ref",
            "YC-BOOK-1",
            show=True,
        )
    )[0]
    first = f"{one['code']} {one['number']}"
    demo.step("A clerk's mistake is red-reversed (冲红): a red receipt cancels it in full")
    demo.run(
        "640100",
        "reverse",
        one["code"],
        "2",
        "--reason",
        "交款人名称开具错误",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
        show=True,
    )
    return first, f"{one['code']}-0000000002"


def transmit(demo: Demo) -> None:
    demo.step("Transmission: city tier → 宁夏 → national, each package acknowledged")
    for sender, receiver in (("640100", "640000"), ("640104", "640000"), ("640000", "000000")):
        package = demo.path(f"{sender}-to-{receiver}.zip")
        demo.run(sender, "transmit", "export", "-o", package, show=True)
        demo.run(receiver, "transmit", "import", package, show=True)
        demo.run(sender, "transmit", "ack", package.removesuffix(".zip") + ".ack.xml")
    demo.run("640000", "transmit", "import", demo.path("640100-to-640000.zip"), show=True)


def audit_offline(demo: Demo, first: str) -> None:
    demo.step("An auditor verifies a receipt PDF offline with only the national trust bundle")
    code, number = first.split()
    pdf = demo.path("receipt-640100.pdf")
    demo.run("640100", "render", code, number, "-o", pdf)
    demo.run("auditor", "verify", pdf, "--trust", demo.path("national-trust.pem"), show=True)


def book(demo: Demo) -> None:
    demo.step("The payer's accountant books the receipt (入账); a second booking is refused")
    pdf = demo.path("receipt-640100.pdf")
    demo.run("payer", "book", pdf, "--voucher", "记-2026-11-0042", "--by", "王会计", show=True)
    demo.run(
        "payer", "book", pdf, "--voucher", "记-2026-11-0043", "--by", "王会计", expect=1, show=True
    )


def reconcile(demo: Demo) -> None:
    demo.step(
        "Reconciliation: 银川 issues one more receipt that never reaches 宁夏; comparing "
        "number-space summaries finds and names it"
    )
    demo.run(
        "640100",
        "issue",
        "--payer-name",
        "宁夏黄河水务有限公司",
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        "91640100MA7600005Y",
        "--item",
        "01:2026-10:888.00",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
        "--client-ref",
        "YC-WITHHELD",
    )
    summary = demo.path("640100-summary.xml")
    request = demo.path("640100-request.xml")
    detail = demo.path("640100-detail.xml")
    demo.run("640100", "reconcile", "summary", "-o", summary)
    demo.run(
        "640000",
        "reconcile",
        "tiers",
        "--with",
        summary,
        "--request-out",
        request,
        expect=1,
        show=True,
    )
    demo.run("640100", "reconcile", "summary", "--blocks", request, "-o", detail)
    demo.run("640000", "reconcile", "tiers", "--with", detail, expect=1, show=True)
    demo.step("Bank reconciliation: 银川's receipts against its bank statement")
    statement = Path(demo.path("640100-bank.csv"))
    write_atomic(statement, bank_statement(demo.home("640100")).encode("utf-8"))
    demo.run("640100", "reconcile", "bank", str(statement), expect=1, show=1)
    demo.run("640100", "reconcile", "stock", show=True)


def close_and_archive(demo: Demo) -> None:
    month = dt.datetime.now(_SHANGHAI).strftime("%Y-%m")
    demo.step(f"Month end: 银川 closes {month}, archives it for 30 years, verifies the archive")
    demo.run("640100", "period", "close", month, "--force", show=True)
    archive = demo.path("640100-archive.zip")
    demo.run("640100", "archive", "create", "--period", month, "-o", archive, show=True)
    demo.run("640100", "archive", "verify", archive, show=True)
    demo.run(
        "640100",
        "issue",
        "--payer-name",
        "某单位",
        "--payer-kind",
        "other",
        "--item",
        "99:2026-11:1.00",
        "--handler",
        "张晓梅",
        "--reviewer",
        "李建国",
        expect=1,
        show=True,
    )
