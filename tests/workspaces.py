"""Moved to tests.support; this name stays until every test imports from there."""

from tests.support.workspaces import (
    ENV as ENV,
)
from tests.support.workspaces import (
    PASSPHRASE as PASSPHRASE,
)
from tests.support.workspaces import (
    federation as federation,
)
from tests.support.workspaces import (
    receipts as receipts,
)
