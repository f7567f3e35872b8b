"""How the public sees a payer's name (docs/security.md, "Masking"): enough to recognise one's
own receipt, too little to learn who pays whom.

- an organisation (enterprise, institution, union, federation, other): the first two and the
  last character shown, every other character a ``*`` (宁夏贺兰山实业有限公司 → 宁夏********司);
  a name of 3 characters shows its first and last, of 2 its first, of 1 nothing;
- a person (payer kind ``individual``): the first character only (张晓梅 → 张**).

One ``*`` per hidden character: the length shows, as on bank slips.
"""

from __future__ import annotations

from receipts.domain.enums import PayerKind

__all__ = ["mask_payer"]


def mask_payer(name: str, kind: PayerKind) -> str:
    """The payer's name as the public look-up shows it."""
    n = len(name)
    if n <= 1:
        return "*" * n
    if kind is PayerKind.INDIVIDUAL or n == 2:
        return name[0] + "*" * (n - 1)
    if n == 3:
        return name[0] + "*" + name[-1]
    return name[:2] + "*" * (n - 3) + name[-1]
