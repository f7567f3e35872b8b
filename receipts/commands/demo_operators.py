"""The last scene of ``receipts demo``: 银川 names its operators (an admin, two clerks and a
reviewer), a clerk naming themselves as reviewer is refused, and what each did is in the log
and the audit (docs/operations.md, "Operators")."""

from __future__ import annotations

import json

from receipts.commands.demo_runner import Demo
from receipts.commands.demo_steps import PAYER_NAME, PAYER_USCC

__all__ = ["OPERATORS", "operators"]

OPERATORS = {
    "李静": ("admin", "demo secret of 李静, admin"),
    "张晓梅": ("clerk", "demo secret of 张晓梅, clerk"),
    "刘洋": ("clerk", "demo secret of 刘洋, clerk"),
    "李建国": ("reviewer", "demo secret of 李建国, reviewer"),
}
"""Name → role and the demo's (made-up) secret."""

_CITY = "640100"


def _as(name: str) -> dict[str, str]:
    """The environment of a batch job run as ``name`` (people type the secret instead)."""
    return {"RECEIPTS_OPERATOR": name, "RECEIPTS_OPERATOR_SECRET": OPERATORS[name][1]}


def operators(demo: Demo, first: str) -> None:
    """``first``: a receipt of 银川 as ``CODE NUMBER`` (the demo's others are numbered on)."""
    demo.step(
        "Operators at 银川: an admin, two clerks and a reviewer, each with their own secret; "
        "nobody is their own reviewer"
    )
    for name, (role, secret) in OPERATORS.items():
        # The first is added with the workspace passphrase, which then opens nothing; the
        # others by that admin.
        env = {} if name == "李静" else _as("李静")
        env["RECEIPTS_NEW_OPERATOR_SECRET"] = secret
        demo.run(_CITY, "operator", "add", name, "--role", role, env=env)
    demo.run(_CITY, "operator", "list", show=True)
    demo.run(
        _CITY,
        "issue",
        "--payer-name",
        PAYER_NAME,
        "--payer-kind",
        "enterprise",
        "--payer-uscc",
        PAYER_USCC,
        "--item",
        "02:2026-10:100.00",
        "--reviewer",
        "张晓梅",
        expect=2,
        show=True,
        env=_as("张晓梅"),
    )
    # A reversal is asked for by one operator and approved by another: the reviewer who asks
    # cannot approve his own request (he withdraws it instead).
    code = first.split()[0]
    asked = demo.run(
        _CITY, "--json", "reverse", code, "3", "--reason", "金额有误", env=_as("李建国")
    )
    request = str(json.loads(asked)["id"])
    demo.run(_CITY, "reversal", "approve", request, expect=2, show=True, env=_as("李建国"))
    demo.run(_CITY, "reversal", "reject", request, "--reason", "撤回", show=True, env=_as("李建国"))
    # The other clerk sends the operators' events up; the province recomputes their hashes,
    # operator names included.
    package = demo.path("640100-operators.zip")
    demo.run(_CITY, "transmit", "export", "-o", package, show=True, env=_as("刘洋"))
    demo.run("640000", "transmit", "import", package, show=True)
    ack = package.removesuffix(".zip") + ".ack.xml"
    demo.run(_CITY, "transmit", "ack", ack, env=_as("刘洋"))
    demo.run(_CITY, "log", "--kind", "operator.", show=True)
    demo.run(_CITY, "audit", show=True)
