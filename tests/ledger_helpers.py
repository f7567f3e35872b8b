"""Moved to tests.support; this name stays until every test imports from there."""

from tests.support.ledger import (
    NINGXIA as NINGXIA,
)
from tests.support.ledger import (
    SHANGHAI as SHANGHAI,
)
from tests.support.ledger import (
    YINCHUAN as YINCHUAN,
)
from tests.support.ledger import (
    fixed_clock as fixed_clock,
)
from tests.support.ledger import (
    make_issuer as make_issuer,
)
from tests.support.ledger import (
    request as request,
)
from tests.support.ledger import (
    stock_city as stock_city,
)
