"""Moved to tests.support; this name stays until every test imports from there."""

from tests.support.factories import (
    ACME_USCC as ACME_USCC,
)
from tests.support.factories import (
    SHANGHAI as SHANGHAI,
)
from tests.support.factories import (
    YINCHUAN as YINCHUAN,
)
from tests.support.factories import (
    make_item as make_item,
)
from tests.support.factories import (
    make_receipt as make_receipt,
)
from tests.support.factories import (
    make_reversal as make_reversal,
)
