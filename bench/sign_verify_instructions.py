"""Instructions per signature and per verification, ours against bare signxml, by callgrind.

    python -m bench.sign_verify_instructions [--n N] [SIDE ...]    (from the repository root)

Wall-clock ratios (bench/sign_verify.py) wander on a shared machine; instruction counts do not.
Each SIDE (``verify-strict``, ``verify-bare``, ``sign-strict``, ``sign-bare``) runs twice under
``valgrind --tool=callgrind``: once with the set-up and 20 warm-up operations only, once with N
operations more on the same documents (bench/sign_verify.py's); the difference over N is the
cost of one. Callgrind hides SHA-NI, so hashlib's SHA-256 counts more there than it costs.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

SIDES = ("verify-strict", "verify-bare", "sign-strict", "sign-bare")
_WARM_UP = 20


def _operation(side: str, n: int) -> tuple[Callable[[int], object], int]:
    """The work of one operation on document ``i``, and the documents made for it."""
    from signxml.xades.xades import XAdESVerifier

    from bench.sign_verify import SHANGHAI, bare_signer, build_document, serialize
    from signing.pem import certificates_to_pem
    from signing.strict_sign import sign_strict
    from signing.xmldsig import verify_enveloped
    from tests.support.tier_pki import tier_pki

    pki = tier_pki()
    city = pki.signers["640100"]
    key, cert, intermediates = city.key, city.certificate, city.intermediates
    signing_time = datetime(2026, 1, 1, tzinfo=UTC).astimezone(SHANGHAI)
    docs = [build_document(i) for i in range(n + _WARM_UP)]
    signed = [serialize(sign_strict(d, key, cert, intermediates, signing_time)) for d in docs]
    validator = pki.validator()
    root_pem = Path(tempfile.mkdtemp()) / "root.pem"
    root_pem.write_bytes(certificates_to_pem([pki.root]))
    work: dict[str, Callable[[int], object]] = {
        "verify-strict": lambda i: (
            verify_enveloped(signed[i], validator, expected_org="640100", engine="strict").valid
            or sys.exit("verification failed")
        ),
        "verify-bare": lambda i: XAdESVerifier().verify(signed[i], ca_pem_file=str(root_pem)),
        "sign-strict": lambda i: serialize(
            sign_strict(docs[i], key, cert, intermediates, signing_time)
        ),
        "sign-bare": lambda i: serialize(
            bare_signer().sign(docs[i], key=key, cert=[cert, *intermediates])
        ),
    }
    return work[side], len(docs)


def _run_operations(side: str, n: int, count: int) -> None:
    operation, made = _operation(side, n)
    for i in range(n, made):
        operation(i)
    for i in range(count):
        operation(i)


def _instructions(side: str, n: int, count: int, out: Path) -> int:
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    command += ["-m", "bench.sign_verify_instructions", "--inner", side, str(n), str(count)]
    subprocess.run(command, check=True, capture_output=True)
    found = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
    if found is None:
        raise SystemExit(f"no summary in {out}")
    return int(found.group(1))


def main() -> None:
    if sys.argv[1:2] == ["--inner"]:
        _run_operations(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200, help="operations counted (default 200)")
    parser.add_argument("sides", nargs="*", metavar="SIDE", help=f"of {', '.join(SIDES)}")
    args = parser.parse_args()
    unknown = sorted(set(args.sides) - set(SIDES))
    if unknown:
        parser.error(f"unknown side {unknown[0]!r}: one of {', '.join(SIDES)}")
    sides: list[str] = args.sides or list(SIDES)
    n: int = args.n
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            base = _instructions(side, n, 0, Path(tmp) / f"{side}.0")
            full = _instructions(side, n, n, Path(tmp) / f"{side}.{n}")
            counts[side] = (full - base) // n
            print(f"{side:14s} {counts[side]:12,d} instructions each", flush=True)
    for what in ("sign", "verify"):
        if f"{what}-strict" in counts and f"{what}-bare" in counts:
            ratio = counts[f"{what}-bare"] / counts[f"{what}-strict"]
            print(f"{what:6s} ratio bare/strict  {ratio:6.2f}x")


if __name__ == "__main__":
    main()
