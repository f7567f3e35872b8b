"""The QR code as a URL a phone opens (docs/formats.md, "The QR URL").

Layout 3 prints
``{base_url}/q?c=CODE&n=NUMBER&x=CHECK&d=YYYYMMDD&a=AMOUNT&i=ISSUER&k=KEYID&s=SEAL``:
the classic QR fields in a fixed order under the issuing federation's public base URL, which
the receipt XML carries (``PublicBaseUrl``, signed) and the seal covers (seal message ``UDR2``,
docs/security.md "The QR URL"). Everything here is strict: a URL is accepted only in exactly the
form :func:`qr_url` writes, so one receipt has one URL and nothing can hide in it.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from datetime import datetime

from receipts.errors import InvalidInput

__all__ = [
    "MAX_BASE_URL",
    "MAX_QR_URL",
    "QR_PATH",
    "canonical_base_url",
    "qr_url",
    "seal_text_from_url",
    "split_qr_url",
    "validate_base_url",
]

#: The path of the QR look-up under the base URL.
QR_PATH = "/q"
#: Longest public base URL (characters).
MAX_BASE_URL = 200
#: Longest QR URL accepted (a 200-character base, the fields and an RSA-2048 seal fit).
MAX_QR_URL = 800
#: The query parameters, in the only order accepted, and the QR text field each carries.
_PARAMS = ("c", "n", "x", "d", "a", "i", "k", "s")
_FIELD_NAMES = (
    "receipt code",
    "number",
    "check code",
    "date",
    "amount",
    "issuer",
    "key id",
    "seal",
)
_FIELD_FORMS = (
    re.compile(r"[0-9]{8}"),
    re.compile(r"[0-9]{10}"),
    re.compile(r"[0-9a-z]{6}"),
    re.compile(r"[0-9]{8}"),
    re.compile(r"-?(0|[1-9][0-9]{0,13})\.[0-9]{2}"),
    re.compile(r"[0-9]{6}"),
    re.compile(r"[0-9a-f]{8}"),
    re.compile(r"[A-Za-z0-9_-]{40,400}"),
)
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)*")
_AUTHORITY = re.compile(r"(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\[\]]+)(:(?P<port>[0-9]{1,5}))?")


def canonical_base_url(value: str, what: str = "public base URL") -> str:
    """``value`` as a base URL in canonical form (scheme and host in lower case, no default port,
    no trailing ``/``), or :class:`InvalidInput` with one line: https only (http for a loopback
    host), no credentials, query, fragment or percent-escapes, at most :data:`MAX_BASE_URL`
    characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if len(value) > MAX_BASE_URL:
        raise InvalidInput(f"{what} must be at most {MAX_BASE_URL} characters, not {len(value)}")
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("https", "http"):
        raise InvalidInput(f"{what} {value!r} must begin with https://")
    if not value.isascii() or any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidInput(
            f"{what} {value!r} must be ASCII without spaces (write an IDN host as xn--)"
        )
    for mark, name in (
        ("?", "a query"),
        ("#", "a fragment"),
        ("@", "credentials"),
        ("%", "escapes"),
    ):
        if mark in rest:
            raise InvalidInput(f"{what} {value!r} must not carry {name} ({mark!r})")
    authority, slash, path = rest.partition("/")
    path = (slash + path).rstrip("/")
    match = _AUTHORITY.fullmatch(authority)
    if match is None:
        raise InvalidInput(f"{what} {value!r} has no valid host")
    host, port = match["host"].lower(), match["port"]
    loopback = _check_host(host, value, what)
    if port is not None and not (1 <= int(port) <= 65535 and port == str(int(port))):
        raise InvalidInput(f"{what} {value!r} has an invalid port")
    if scheme == "http" and not loopback:
        raise InvalidInput(f"{what} {value!r} must use https (http only for a loopback host)")
    if not _PATH.fullmatch(path) or any(seg in (".", "..") for seg in path.split("/")):
        raise InvalidInput(f"{what} {value!r} has a path other than plain segments")
    if port == {"https": "443", "http": "80"}[scheme]:
        port = None  # the scheme's default port is not written
    return f"{scheme}://{host}{'' if port is None else ':' + port}{path}"


def validate_base_url(value: str, what: str = "public base URL") -> str:
    """``value`` if it is a base URL already in canonical form (as a signed receipt must carry
    it), else :class:`InvalidInput`."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    return _validate_base_url(value, what)


# A batch of receipts repeats one base URL: validating it once is enough (a refusal raises and
# so is never cached).
@functools.lru_cache(maxsize=64)
def _validate_base_url(value: str, what: str) -> str:
    canonical = canonical_base_url(value, what)
    if canonical != value:
        raise InvalidInput(f"{what} {value!r} is not in canonical form ({canonical!r})")
    return value


def _check_host(host: str, value: str, what: str) -> bool:
    """Whether ``host`` is a loopback host; raises for a malformed one."""
    literal = host[1:-1] if host.startswith("[") else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        if host.startswith("[") or not _HOST.fullmatch(host) or host.replace(".", "").isdigit():
            raise InvalidInput(f"{what} {value!r} has no valid host") from None
        return host == "localhost"
    if (address.version == 6) != host.startswith("["):
        raise InvalidInput(f"{what} {value!r} has no valid host")
    return address.is_loopback


def qr_url(base_url: str, seal_text: str) -> str:
    """``{base_url}/q?c=…&s=…``: the classic QR text
    ``UDR1|code|number|check|yyyymmdd|amount|issuer|key_id|seal`` under ``base_url``."""
    validate_base_url(base_url)
    parts = seal_text.split("|")
    if len(parts) != 9 or parts[0] != "UDR1":
        raise InvalidInput(
            "not a receipt QR text (UDR1|code|number|check|date|amount|issuer|key|seal)"
        )
    values = parts[1:]
    _check_fields(values)
    query = "&".join(f"{name}={value}" for name, value in zip(_PARAMS, values, strict=True))
    return f"{base_url}{QR_PATH}?{query}"


def split_qr_url(url: str) -> tuple[str, str]:
    """``(base_url, classic QR text)`` of a QR URL, or :class:`InvalidInput` with one line."""
    if not isinstance(url, str):
        raise InvalidInput("a QR URL must be text")
    if len(url) > MAX_QR_URL:
        raise InvalidInput(f"QR URL is {len(url)} characters, more than {MAX_QR_URL}")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidInput("QR URL must be ASCII without spaces or control characters")
    if "#" in url:
        raise InvalidInput("QR URL must not carry a fragment")
    if not url.lower().startswith(("https://", "http://")):
        raise InvalidInput("QR URL must begin with https://")
    head, mark, query = url.partition("?")
    if not mark:
        raise InvalidInput("QR URL has no query (expected …/q?c=…&n=…)")
    if not head.endswith(QR_PATH):
        raise InvalidInput(f"QR URL path must end in {QR_PATH!r}")
    base_url = validate_base_url(head[: -len(QR_PATH)], "QR URL base")
    values = _query_values(query)
    _check_fields(values)
    return base_url, "|".join(("UDR1", *values))


def seal_text_from_url(url: str) -> str:
    """The classic text ``UDR1|code|number|check|yyyymmdd|amount|issuer|key_id|seal`` of a QR
    URL (its seal signs the base URL too: verify the URL itself, docs/security.md)."""
    return split_qr_url(url)[1]


def _query_values(query: str) -> list[str]:
    pairs = query.split("&")
    names = []
    values = []
    for pair in pairs:
        name, eq, value = pair.partition("=")
        if not eq:
            raise InvalidInput(f"QR URL parameter {name!r} has no value")
        if "%" in pair or "+" in pair:
            raise InvalidInput(f"QR URL parameter {name!r} must not be escaped")
        if name not in _PARAMS:
            raise InvalidInput(f"QR URL has an unknown parameter {name!r}")
        if name in names:
            raise InvalidInput(f"QR URL repeats parameter {name!r}")
        names.append(name)
        values.append(value)
    missing = [name for name in _PARAMS if name not in names]
    if missing:
        raise InvalidInput(f"QR URL lacks parameter(s) {', '.join(missing)}")
    if tuple(names) != _PARAMS:
        raise InvalidInput(f"QR URL parameters must come in the order {'&'.join(_PARAMS)}")
    return values


def _check_fields(values: list[str]) -> None:
    for value, form, what in zip(values, _FIELD_FORMS, _FIELD_NAMES, strict=True):
        if not form.fullmatch(value):
            raise InvalidInput(f"QR {what} {value!r} is not in its canonical form")
    try:
        datetime.strptime(values[3], "%Y%m%d")
    except ValueError:
        raise InvalidInput(f"QR date {values[3]!r} is not a date (yyyymmdd)") from None
    if values[4].lstrip("-") == "0.00":
        raise InvalidInput("QR amount must not be zero")
