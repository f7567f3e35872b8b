"""``receipts demo`` end to end: the whole life of receipts, each step's outcome checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.slow  # about 10 s: every step of the demo, end to end
def test_demo_runs_the_whole_life(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    code, out = cli("demo", str(root))
    assert code == 0, out
    assert re.search(r"Done in \d+\.\d s: 22 steps", out)
    # Every step printed the command behind it.
    assert out.count("\n      $ receipts --home ") >= 60
    # Batch issuing, rerun without duplicates.
    assert "issued 150 receipt(s)" in out
    assert "150 already issued before (nothing issued twice)" in out
    # Transmission: everything up to the national tier, acknowledged.
    env = {"RECEIPTS_KEY_PASSPHRASE": "demo-only passphrase, never for real keys"}
    runner = CliRunner(env=env)
    listing = json.loads(
        runner.invoke(main, ["--home", str(root / "640100"), "--json", "transmit", "list"]).stdout
    )
    # The second: the receipts issued for the money steps, before settlement; the third: pushed
    # over HTTP by sync; the fourth: the operators' events, sent by the clerk 刘洋 in the last step.
    assert [t["status"] for t in listing] == ["acknowledged"] * 4
    # Online: the nodes of 宁夏 and the national federation; sync agrees; the 查验 page answers.
    assert out.count("OK: both sides agree") == 2
    assert re.search(r"查验 page of 宁夏: http://127\.0\.0\.1:\d+/", out)
    assert "→ 有效" in out and re.search(r"→ 已冲红：本收据已被红字收据 6471\d{4}-0000000152", out)
    assert out.count("stopped cleanly (SIGTERM, exit 0)") == 2
    stats = json.loads(
        runner.invoke(
            main, ["--home", str(root / "000000"), "--json", "stats", "--by", "issuer"]
        ).stdout
    )
    text = json.dumps(stats, ensure_ascii=False)
    assert "640100" in text and "640104" in text and "640000" in text
    # The auditor's PDF verified offline; the payer booked once and was refused a second time.
    assert re.search(r"VALID    \S+receipt-640100\.pdf  6471\d{4}-0000000151 11409\.50", out)
    assert "was booked already by 王会计" in out
    # The withheld receipt was found and named by the tier reconciliation.
    assert re.search(r"missing\s+6471\d{4}-0000000153\s+888\.00", out)
    # The closed month was archived and the archive verified; issuing into it was refused.
    assert re.search(r"OK  \S+640100-archive\.zip: main archive of \d{4}-\d{2}, 165 receipt", out)
    assert re.search(r"error: period \d{4}-\d{2} is closed; nothing can be issued into it", out)
    # The money (issue 17): register and wage bills from Excel and CSV, arrears, an Excel batch, a
    # tax-collected month refusing a second receipt, settlement up two tiers, vouchers, delivery.
    assert "registered 5, updated 0, unchanged 0" in out
    assert "declared 4, corrected 0, unchanged 0" in out
    assert re.search(r"640100\s+4\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+86\.11", out)
    assert "issued 12 receipt(s)" in out
    assert "imported 2 tax record(s), total 16,600.00" in out
    assert "was collected by the tax bureau (tax voucher 364012600000123" in out
    assert out.count("no differences") >= 2
    assert "(every voucher balances: debits = credits)" in out
    assert "5 sent" in out and "the mailbox holds 5 message(s)" in out
    # 银川's operators: two clerks and a reviewer; a clerk is refused as their own reviewer.
    assert "error: reviewer must be an operator other than the handler 张晓梅" in out
    assert "error: reversal needs approval by a reviewer other than 李建国" in out
    assert re.search(r"by 刘洋: transmission\.acknowledged 1", out)
    for org in ("000000", "640000", "640100", "640104", "payer"):
        audit = runner.invoke(main, ["--home", str(root / org), "audit"])
        assert audit.exit_code == 0, (org, audit.output)
    # A second run refuses the non-empty folder.
    code, out = cli("demo", str(root))
    assert code == 2 and "is not empty; give an empty folder or --force" in out
