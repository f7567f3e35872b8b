"""Moved to tests.support; this name stays until every test imports from there."""

from tests.support.tier_pki import (
    TierPki as TierPki,
)
from tests.support.tier_pki import (
    tier_pki as tier_pki,
)
