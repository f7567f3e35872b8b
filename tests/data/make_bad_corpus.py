"""Write tests/data/bad/*.xml from the good normal sample (run from the repository root).

Each file is named for what is wrong with it; ``tests/test_bad_corpus.py`` holds the exact
error each must produce. The files are committed; rerun this only to add a case.
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent
GOOD = (DATA / "good" / "normal.xml").read_text("utf-8")
REVERSAL = (DATA / "good" / "reversal.xml").read_text("utf-8")


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


ITEM = """    <Item>
      <Code>02</Code>
      <Name>会员会费</Name>
      <Period>2026-10</Period>
      <Amount>1409.50</Amount>
    </Item>
"""

CASES: dict[str, str] = {
    "total-not-sum.xml": sub(GOOD, "<Amount>3409.50</Amount>", "<Amount>3409.60</Amount>"),
    "capitals-mismatch.xml": sub(GOOD, "叁仟肆佰零玖元伍角整", "叁仟肆佰零玖元陆角整"),
    "fraction-of-fen.xml": sub(GOOD, "<Amount>1409.50</Amount>", "<Amount>1409.505</Amount>"),
    "amount-too-large.xml": sub(
        GOOD, "<Amount>1409.50</Amount>", "<Amount>99999999999999.00</Amount>"
    ),
    "missing-handler.xml": sub(GOOD, "  <Handler>张晓梅</Handler>\n", ""),
    "too-many-items.xml": sub(GOOD, "  </Items>", ITEM * 8 + "  </Items>"),
    "bad-period.xml": sub(GOOD, "<Period>2026-10</Period>", "<Period>2026-13</Period>"),
    "uscc-wrong-check-character.xml": sub(GOOD, "91640100MA7600001J", "91640100MA7600001K"),
    "code-of-another-province.xml": sub(GOOD, "<Code>64710126</Code>", "<Code>65710126</Code>"),
    "code-of-another-year.xml": sub(GOOD, "<Code>64710126</Code>", "<Code>64710125</Code>"),
    "tier-mismatch.xml": sub(GOOD, "<Tier>city</Tier>", "<Tier>provincial</Tier>"),
    "not-a-province.xml": sub(GOOD, "<OrgCode>640100</OrgCode>", "<OrgCode>990100</OrgCode>"),
    "basis-times-rate-wrong.xml": sub(
        sub(GOOD, "<Amount>2000.00</Amount>", "<Amount>2001.00</Amount>"),
        "<Amount>3409.50</Amount>",
        "<Amount>3410.50</Amount>",
    ),
    "reversal-with-positive-amounts.xml": REVERSAL.replace("<Amount>-", "<Amount>"),
    "reversal-without-original.xml": sub(
        REVERSAL,
        "  <Original>\n    <Code>64710126</Code>\n    <Number>0000000001</Number>\n  </Original>\n"
        "  <Reason>交款人名称开具错误</Reason>\n",
        "",
    ),
    "normal-with-original.xml": sub(
        GOOD,
        "  <Handler>",
        "  <Original>\n    <Code>64710126</Code>\n    <Number>0000000009</Number>\n  </Original>\n"
        "  <Reason>多余</Reason>\n  <Handler>",
    ),
    "unknown-element.xml": sub(GOOD, "  <Handler>", "  <Discount>10.00</Discount>\n  <Handler>"),
    "wrong-namespace.xml": sub(GOOD, "urn:union-dues-receipt:1", "urn:union-dues-receipt:2"),
    "issue-time-without-offset.xml": sub(GOOD, "2026-11-28T10:30:00+08:00", "2026-11-28T10:30:00"),
    "name-too-long.xml": sub(GOOD, "宁夏贺兰山实业有限公司", "长" * 101),
    "check-code-upper-case.xml": sub(
        GOOD, "<CheckCode>k3x9q2</CheckCode>", "<CheckCode>K3X9Q2</CheckCode>"
    ),
    "truncated.xml": GOOD[: len(GOOD) // 2],
    "xxe.xml": sub(
        GOOD,
        "<Receipt ",
        '<!DOCTYPE Receipt [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<Receipt ',
    ).replace("李建国", "&xxe;"),
    "billion-laughs.xml": sub(
        GOOD,
        "<Receipt ",
        '<!DOCTYPE Receipt [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>\n'
        "<Receipt ",
    ).replace("李建国", "&d;"),
    "external-dtd.xml": sub(
        GOOD, "<Receipt ", '<!DOCTYPE Receipt SYSTEM "http://198.51.100.7/receipt.dtd">\n<Receipt '
    ),
    "empty.xml": "",
}


if __name__ == "__main__":
    bad = DATA / "bad"
    bad.mkdir(exist_ok=True)
    for name, text in CASES.items():
        (bad / name).write_text(text, "utf-8")
    print(f"wrote {len(CASES)} files to {bad}")
