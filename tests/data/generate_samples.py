"""Write the sample receipts under tests/data/good/ (run from the repository root).

The files are committed; ``tests/test_xml.py`` checks the code still writes exactly them.
"""

from __future__ import annotations

from pathlib import Path

from receipts.domain.xmlcodec import receipt_to_element, serialize
from tests.support.factories import make_receipt, make_reversal

GOOD = Path(__file__).parent / "good"


def samples() -> dict[str, bytes]:
    """Sample name → unsigned XML bytes."""
    normal = make_receipt()
    return {
        "normal.xml": serialize(receipt_to_element(normal), pretty=True),
        "reversal.xml": serialize(receipt_to_element(make_reversal(normal)), pretty=True),
    }


if __name__ == "__main__":
    for name, data in samples().items():
        (GOOD / name).write_bytes(data)
        print("wrote", GOOD / name)
