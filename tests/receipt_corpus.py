"""Moved to tests.support; this name stays until every test imports from there."""

from tests.support.receipt_corpus import (
    bad_receipts as bad_receipts,
)
from tests.support.receipt_corpus import (
    good_xml as good_xml,
)
from tests.support.receipt_corpus import (
    still_valid_after_expiry as still_valid_after_expiry,
)
