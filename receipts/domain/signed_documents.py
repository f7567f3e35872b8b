"""Our signed documents other than receipts (allocations, manifests, acknowledgements):
verification against the workspace's trust, and reading only what was signed.

:func:`chain_validator` is the one place ``receipts`` builds a
:class:`~signing.trust.ChainValidator`, so every chain it validates (receipts, PDFs, packages,
acknowledgements, allocations, summaries, archives, imported certificates) is held to the
division-code tier rule (docs/security.md); a test keeps it the only one.
"""

from __future__ import annotations

from typing import Any, cast

from cryptography import x509
from lxml import etree

from receipts.domain.divisions import issuer_may_certify
from receipts.errors import InvalidInput, ReceiptError
from schemas import load_schema
from signing.certificate_profile import org_code_of
from signing.trust import ChainValidator, TrustBundle
from signing.xmldsig import verify_enveloped
from signing.xmlparse import MAX_XML_BYTES

__all__ = [
    "InvalidSignedDocument",
    "chain_validator",
    "verify_document",
    "verify_document_signer",
]


def chain_validator(bundle: TrustBundle, *, require_crl: bool = False) -> ChainValidator:
    """A chain validator over ``bundle`` that holds every link to the tier rule
    (:func:`receipts.domain.divisions.issuer_may_certify`)."""
    return ChainValidator(bundle, issuer_may_certify=issuer_may_certify, require_crl=require_crl)


class InvalidSignedDocument(ReceiptError):
    """A signed document's signature, chain or signer is not acceptable."""

    exit_code = 1


def verify_document(
    data: bytes,
    validator: ChainValidator,
    *,
    expected_org: str | None,
    schema: str,
    what: str,
    max_bytes: int = MAX_XML_BYTES,
) -> tuple[etree._Element, str]:
    """Verify ``data``; return its signed root (schema-checked) and the signer's org code."""
    root, signer = verify_document_signer(
        data, validator, expected_org=expected_org, schema=schema, what=what, max_bytes=max_bytes
    )
    return root, org_code_of(signer)


def verify_document_signer(
    data: bytes,
    validator: ChainValidator,
    *,
    expected_org: str | None,
    schema: str,
    what: str,
    max_bytes: int = MAX_XML_BYTES,
) -> tuple[etree._Element, x509.Certificate]:
    """Like :func:`verify_document`, returning the signer's certificate. ``max_bytes`` bounds
    the document: a receipt's limit unless the caller reads a manifest (``MAX_MANIFEST_BYTES``)."""
    result = verify_enveloped(data, validator, expected_org=expected_org, max_bytes=max_bytes)
    if not result.valid or result.signed_root is None:
        detail = "; ".join(f"{f.code}: {f.message}" for f in result.findings) or "not valid"
        raise InvalidSignedDocument(f"{what}: {detail}")
    root = result.signed_root
    assert result.signer is not None  # a valid result always names its signer
    compiled = load_schema(schema)
    if not compiled.validate(root):
        first = cast(Any, compiled.error_log)[0].message  # lxml-stubs omit indexing
        raise InvalidInput(f"{what}: {first}")
    return root, result.signer
