"""``receipts demo``: the whole life of receipts across three tiers, in a fresh folder, through
the same commands a federation would type (each step prints the command behind it).

National (000000) → 宁夏 (640000) → 银川 (640100) and 兴庆区 (640104), plus one payer, an
enterprise. Keys and certificates come from the real PKI flow; passphrases are demo values put
in the environment for this run only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import random
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from receipts.commands.runtime import Context, command
from receipts.divisions import known_federation
from receipts.errors import WorkspaceError

__all__ = ["DemoFailed", "register", "run_demo"]

_SHANGHAI = dt.timezone(dt.timedelta(hours=8))
DEMO_PASSPHRASE = "demo-only passphrase, never for real keys"  # noqa: S105
PAYER_NAME = "宁夏贺兰山实业有限公司"
PAYER_USCC = "91640100MA7600001J"
ORGS = ("000000", "640000", "640100", "640104")
_PAYERS = [
    ("宁夏贺兰山实业有限公司", "enterprise", "91640100MA7600001J"),
    ("银川市兴庆区某某商贸有限公司", "enterprise", "91640104MA7600002F"),
    ("宁夏塞上江南建设集团有限公司", "enterprise", "91640000MA7600003K"),
    ("银川市第一中学工会委员会", "grassroots_union", "81640100MA7600004W"),
    ("宁夏黄河水务有限公司", "enterprise", "91640100MA7600005Y"),
]


class DemoFailed(WorkspaceError):
    """A demo step did not do what it should (a bug, or a broken environment)."""

    exit_code = 3


@dataclass
class _Demo:
    group: click.Group
    root: Path
    say: Callable[[str], None]
    steps: int = 0
    started: float = field(default_factory=time.perf_counter)
    notes: list[str] = field(default_factory=list)

    def home(self, name: str) -> Path:
        return self.root / name

    def run(self, where: str, *args: str, expect: int = 0, show: bool | int = False) -> str:
        """``show`` prints the output (True) or its first ``show`` lines."""
        """Run ``receipts --home ROOT/where ARGS`` in-process; check its exit code."""
        from click.testing import CliRunner

        argv = ["--home", str(self.home(where)), *args]
        # The real command, run in this process (its output captured so the demo can narrate).
        result = CliRunner().invoke(self.group, argv, catch_exceptions=False)
        shown = "receipts " + " ".join(shlex.quote(a) for a in argv)
        self.say(f"      $ {shown.replace(str(self.root) + '/', '')}")
        if result.exit_code != expect:
            raise DemoFailed(
                f"demo step failed (exit {result.exit_code}, expected {expect}): "
                f"{shown}\n{result.stdout}{result.stderr}"
            )
        output = result.stdout + result.stderr
        if show:
            lines = output.strip().splitlines()
            limit = len(lines) if show is True else int(show)
            for line in lines[:limit]:
                self.say(f"        {line}")
            if len(lines) > limit:
                self.say(f"        … ({len(lines) - limit} more lines)")
        return result.stdout

    def step(self, text: str) -> None:
        self.steps += 1
        self.say(f"[{self.steps:2d}] {text}")

    def path(self, name: str) -> str:
        return str(self.root / "files" / name)


@contextmanager
def _demo_environment() -> Iterator[None]:
    saved = {
        k: os.environ.get(k)
        for k in (
            "RECEIPTS_KEY_PASSPHRASE",
            "RECEIPTS_CA_PASSPHRASE",
            "RECEIPTS_DB",
            "RECEIPTS_HOME",
        )
    }
    os.environ["RECEIPTS_KEY_PASSPHRASE"] = DEMO_PASSPHRASE
    os.environ["RECEIPTS_CA_PASSPHRASE"] = DEMO_PASSPHRASE
    os.environ.pop("RECEIPTS_DB", None)
    os.environ.pop("RECEIPTS_HOME", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_demo(
    group: click.Group, root: Path, say: Callable[[str], None], *, force: bool = False
) -> dict[str, str]:
    """Run the demo in ``root`` (new or empty, unless ``force``); return paths worth opening."""
    if root.exists() and any(root.iterdir()) and not force:
        raise WorkspaceError(f"{root} is not empty; give an empty folder or --force")
    if root.exists() and force:
        import shutil

        shutil.rmtree(root)
    (root / "files").mkdir(parents=True)
    demo = _Demo(group, root, say)
    with _demo_environment():
        _workspaces(demo)
        _pki(demo)
        _stock(demo)
        first, reversed_ref = _issue(demo)
        _transmit(demo)
        _audit_offline(demo, first)
        _book(demo)
        _reconcile(demo)
        _close_and_archive(demo)
        demo.step("Statistics of the province, where everything below it arrived")
        demo.run("640000", "stats", "--by", "issuer", show=True)
        demo.run("640000", "audit", show=True)
    elapsed = time.perf_counter() - demo.started
    paths = {
        "receipt PDF": demo.path("receipt-640100.pdf"),
        "trust bundle": demo.path("national-trust.pem"),
        "archive": demo.path("640100-archive.zip"),
        "workspaces": str(root),
    }
    say("")
    say(
        f"Done in {elapsed:.1f} s: {demo.steps} steps, four federations and one payer under "
        f"{root}. Reversed receipt: {reversed_ref}."
    )
    for label, path in paths.items():
        say(f"  {label:13s} {path}")
    return paths


def _workspaces(demo: _Demo) -> None:
    demo.step("Workspaces: the national federation, 宁夏, 银川, 兴庆区, and an enterprise payer")
    for org in ORGS:
        known = known_federation(org)
        assert known is not None
        demo.run(org, "init", "--org", org, "--name", known.name)
    demo.run("payer", "init", "--payer", "--name", PAYER_NAME, "--uscc", PAYER_USCC)


def _pki(demo: _Demo) -> None:
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


def _stock(demo: _Demo) -> None:
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


def _batch_csv(rows: int, seed: int, prefix: str) -> str:
    rng = random.Random(seed)  # noqa: S311 (demo data, not security)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "client_ref",
            "payer_name",
            "payer_kind",
            "payer_uscc",
            "item_code",
            "period",
            "amount",
            "basis",
            "rate",
            "handler",
            "reviewer",
        ]
    )
    for n in range(1, rows + 1):
        name, kind, uscc = _PAYERS[n % len(_PAYERS)]
        if n % 4 == 0:
            writer.writerow(
                [
                    f"{prefix}-{n:04d}",
                    name,
                    kind,
                    uscc,
                    "02",
                    "2026-10",
                    f"{rng.randint(100, 5000)}.{rng.randint(0, 99):02d}",
                    "",
                    "",
                    "张晓梅",
                    "李建国",
                ]
            )
        else:
            basis = rng.randint(50_000, 900_000)
            writer.writerow(
                [
                    f"{prefix}-{n:04d}",
                    name,
                    kind,
                    uscc,
                    "01",
                    "2026-10",
                    "",
                    f"{basis}.00",
                    "0.02",
                    "张晓梅",
                    "李建国",
                ]
            )
    return out.getvalue()


def _issue(demo: _Demo) -> tuple[str, str]:
    demo.step(
        "Issuing: 银川 issues a monthly batch (CSV, GBK as spreadsheets export it), "
        "兴庆区 and 宁夏 issue too"
    )
    city_csv = Path(demo.path("640100-batch.csv"))
    city_csv.write_bytes(_batch_csv(150, 1, "YC-2026-10").encode("gbk"))
    demo.run("640100", "issue", "--batch", str(city_csv), show=True)
    demo.step("Rerunning the same batch issues nothing twice")
    demo.run("640100", "issue", "--batch", str(city_csv), show=True)
    county_csv = Path(demo.path("640104-batch.csv"))
    county_csv.write_text(_batch_csv(40, 2, "XQ-2026-10"), encoding="utf-8-sig")
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
    import json

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


def _transmit(demo: _Demo) -> None:
    demo.step("Transmission: city tier → 宁夏 → national, each package acknowledged")
    for sender, receiver in (("640100", "640000"), ("640104", "640000"), ("640000", "000000")):
        package = demo.path(f"{sender}-to-{receiver}.zip")
        demo.run(sender, "transmit", "export", "-o", package, show=True)
        demo.run(receiver, "transmit", "import", package, show=True)
        demo.run(sender, "transmit", "ack", package.removesuffix(".zip") + ".ack.xml")
    demo.run("640000", "transmit", "import", demo.path("640100-to-640000.zip"), show=True)


def _audit_offline(demo: _Demo, first: str) -> None:
    demo.step("An auditor verifies a receipt PDF offline with only the national trust bundle")
    code, number = first.split()
    pdf = demo.path("receipt-640100.pdf")
    demo.run("640100", "render", code, number, "-o", pdf)
    demo.run("auditor", "verify", pdf, "--trust", demo.path("national-trust.pem"), show=True)


def _book(demo: _Demo) -> None:
    demo.step("The payer's accountant books the receipt (入账); a second booking is refused")
    pdf = demo.path("receipt-640100.pdf")
    demo.run("payer", "book", pdf, "--voucher", "记-2026-11-0042", "--by", "王会计", show=True)
    demo.run(
        "payer", "book", pdf, "--voucher", "记-2026-11-0043", "--by", "王会计", expect=1, show=True
    )


def _reconcile(demo: _Demo) -> None:
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
    statement.write_text(_bank_statement(demo), encoding="utf-8")
    demo.run("640100", "reconcile", "bank", str(statement), expect=1, show=1)
    demo.run("640100", "reconcile", "stock", show=True)


def _bank_statement(demo: _Demo) -> str:
    """A statement as the bank would send it: most receipts credited, some not, one stranger."""
    from receipts.ledger.database import Database, default_url
    from receipts.ledger.models import ReceiptRow

    db = Database(default_url(demo.home("640100")))
    from sqlalchemy import select

    with db.read() as session:
        rows = session.execute(
            select(
                ReceiptRow.issued_at,
                ReceiptRow.total_fen,
                ReceiptRow.payer_name,
                ReceiptRow.payer_id,
                ReceiptRow.kind,
            ).order_by(ReceiptRow.number)
        ).all()
    db.dispose()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["date", "amount", "payer_name", "payer_account", "reference"])
    for n, (issued, fen, name, payer_id, kind) in enumerate(rows):
        if kind != "normal" or n % 37 == 5:  # the bank never saw a few of them
            continue
        writer.writerow(
            [
                issued.astimezone(_SHANGHAI).date().isoformat(),
                f"{fen // 100}.{fen % 100:02d}",
                name,
                payer_id or "",
                "",
            ]
        )
    writer.writerow(
        [
            rows[0][0].astimezone(_SHANGHAI).date().isoformat(),
            "777.77",
            "不明来款单位",
            "",
            "不明款项",
        ]
    )
    return out.getvalue()


def _close_and_archive(demo: _Demo) -> None:
    month = dt.datetime.now(_SHANGHAI).strftime("%Y-%m")
    demo.step(f"Month end: 银川 closes {month}, archives it for 30 years, verifies the archive")
    demo.run("640100", "period", "close", month, show=True)
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


def register(group: click.Group) -> None:
    """Attach ``demo``."""

    @command(group, "demo", epilog="\b\nExample:\n  receipts demo ./receipts-demo")
    @click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
    @click.option("--force", is_flag=True, help="Empty a non-empty folder first.")
    def demo_cmd(ctx: Context, folder: Path | None, force: bool) -> None:
        """The whole life of receipts across three tiers on SQLite, in a fresh folder."""
        run_demo(group, folder or Path("receipts-demo"), ctx.echo, force=force)
