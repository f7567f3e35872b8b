"""Rare characters end to end (issue 18, item 3): a federation configured with a fuller font
issues and renders a receipt whose payer name the shipped font lacks (CJK Extension A); a name
even that font cannot draw is refused before a number is taken; and another workspace, with the
default font, verifies the PDF by its content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from receipts.render.receipt_pdf import extract_xml
from tests.support.skips import skip_or_fail
from tests.support.workspaces import ENV, federation, ok, receipts

FULLER_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
RARE = "宁夏䶮㛃贺兰山实业有限公司"  # U+4DAE, U+36C3: not in the shipped subset
UNDRAWABLE = "宁夏𠈌实业有限公司"  # U+2020C (Extension B): not in WenQuanYi Zen Hei either


def _issue(home: Path, name: str) -> Result:
    return receipts(
        home,
        "--json",
        *("issue", "--payer-name", name, "--payer-kind", "enterprise"),
        *("--payer-uscc", "91640100MA7600001J", "--item", "01:2026-10:100.00"),
        *("--handler", "甲", "--reviewer", "乙"),
    )


def test_a_fuller_font_issues_what_the_default_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not FULLER_FONT.exists():
        skip_or_fail(f"{FULLER_FONT} is not installed (Debian: fonts-wqy-zenhei)")
    monkeypatch.setenv("RECEIPTS_KEY_PASSPHRASE", ENV["RECEIPTS_KEY_PASSPHRASE"])
    prov, city = tmp_path / "prov", tmp_path / "city"
    federation(prov, "640000")
    federation(city, "640100")
    config = city / "receipts.toml"
    config.write_text(config.read_text("utf-8") + f'\n[render]\nfont = "{FULLER_FONT}"\n', "utf-8")
    ok(prov, "org", "add", "--code", "640100")
    ok(prov, "stock", "allocate", "--to", "640100", "--count", "5", "-o", str(tmp_path / "a.xml"))
    ok(city, "stock", "import", str(tmp_path / "a.xml"))

    refused = _issue(city, UNDRAWABLE)
    assert refused.exit_code != 0
    assert "U+2020C" in refused.output
    issued = _issue(city, RARE)
    assert issued.exit_code == 0, issued.output
    code = json.loads(ok(city, "--json", "stock", "list"))[0]["segment"][:8]
    # The refused name took no number: the rare name got the first one.
    pdf = tmp_path / "r.pdf"
    ok(city, "render", code, "1", "-o", str(pdf))
    assert RARE.encode() in extract_xml(pdf.read_bytes())

    # The province has the default font: it cannot re-render the page, it reads it.
    assert "font" not in (prov / "receipts.toml").read_text("utf-8")
    result = receipts(prov, "--json", "verify", str(pdf))
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["findings"] == []
