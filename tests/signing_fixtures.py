"""Moved to tests.support; this name stays until every test imports from there."""

from tests.support.pki import (
    SHANGHAI as SHANGHAI,
)
from tests.support.pki import (
    Pki as Pki,
)
from tests.support.pki import (
    Signer as Signer,
)
from tests.support.pki import (
    build_pki as build_pki,
)
from tests.support.pki import (
    sample_document as sample_document,
)
