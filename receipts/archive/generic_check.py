"""What lets an auditor check an archive package decades from now without this product
(docs/formats.md, "Checking an archive without the product"; issue 18, item 5).

Three files join every package, each listed (and so signed) in the manifest like any other:

- ``SHA256SUMS``: the SHA-256 of every other file but the manifest, in ``sha256sum`` format;
- ``SIGNING-TIMES``: each receipt's signing time in UTC, which ``xmlsec1`` is told to check the
  certificates at (they will have expired long before the auditor comes);
- ``README.txt``: in Chinese and English, the commands (lines beginning ``$ ``) that check it all
  with ``sha256sum``, ``xmlsec1``, ``pdfsig``/``certutil`` and ``pdfdetach`` from a shell in the
  unpacked folder. A test runs exactly those lines. A time-stamped receipt's token (XAdES-T) is
  outside its signature: ``xmlsec1`` verifies the file as it is, and the PDF check compares the
  attachment with the receipt less its time-stamp (``sed``, then ``cmp``).

The roots the package trusts are written as ``trust/root.pem`` (or ``trust/root-N.pem``), one
certificate per file, because ``xmlsec1 --trusted-pem`` reads one certificate per file; the README
gives their SHA-256 fingerprints to compare with the ones the national federation publishes, since
a root that travels inside the package proves nothing on its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

__all__ = [
    "README",
    "SHA256SUMS",
    "SIGNING_TIMES",
    "generic_check_files",
    "root_files",
]

#: A ``sed`` expression that removes a signature time-stamp exactly as
#: :func:`signing.xades_t.add_signature_timestamp` writes it (one run of text, namespaces declared
#: on the element, no line breaks), giving back the receipt as issued: the XML a PDF carries.
_UNSTAMP = (
    r's#<xades:UnsignedProperties xmlns:xades="[^"]*" xmlns:ds="[^"]*">'
    r"<xades:UnsignedSignatureProperties>.*</xades:UnsignedProperties>##"
)

README = "README.txt"
SHA256SUMS = "SHA256SUMS"
SIGNING_TIMES = "SIGNING-TIMES"


def root_files(roots: Sequence[x509.Certificate]) -> dict[str, bytes]:
    """Each trusted root in a PEM file of its own under ``trust/``."""
    if len(roots) == 1:
        return {"trust/root.pem": roots[0].public_bytes(Encoding.PEM)}
    return {
        f"trust/root-{n}.pem": root.public_bytes(Encoding.PEM)
        for n, root in enumerate(roots, start=1)
    }


def generic_check_files(
    files: Mapping[str, bytes],
    signing_times: Mapping[str, datetime],
    roots: Sequence[x509.Certificate],
    manifest_time: datetime,
    org: str,
    label: str,
) -> dict[str, bytes]:
    """``SHA256SUMS``, ``SIGNING-TIMES`` and ``README.txt`` for the package holding ``files``
    (its other members, roots included), whose manifest is signed at ``manifest_time``."""
    sums = "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files))
    times = "".join(f"{_gmt(signing_times[p])} {p}\n" for p in sorted(signing_times) if p in files)
    root_names = sorted(p for p in files if p.startswith("trust/root"))
    readme = _readme(
        org,
        label,
        root_names,
        roots,
        _gmt(manifest_time),
        has_pdf=any(p.startswith("pdf/") for p in files),
    )
    return {
        SHA256SUMS: sums.encode("ascii"),
        SIGNING_TIMES: times.encode("ascii"),
        README: readme.encode("utf-8"),
    }


def _gmt(at: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC: the form of ``xmlsec1 --verification-gmt-time``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _fingerprint(cert: x509.Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def _readme(
    org: str,
    label: str,
    root_names: list[str],
    roots: Sequence[x509.Certificate],
    manifest_gmt: str,
    *,
    has_pdf: bool,
) -> str:
    trusted = " ".join(f"--trusted-pem {name}" for name in root_names)
    fingerprints = "\n".join(
        f"  {name}: SHA-256 {_fingerprint(cert)}\n    {cert.subject.rfc4514_string()}"
        for name, cert in zip(root_names, roots, strict=True)
    )
    commands = _commands(trusted, root_names[0], manifest_gmt, has_pdf=has_pdf)
    block = "\n".join(commands)
    return f"""工会经费收入专用收据(电子) 归档包 / Union-funds receipts (electronic): archive
{org} · {label}

【中文】
本归档包可以不依赖本软件,用通用工具核验。在解压后的目录中执行下面以 “$ ” 开头的命令
(Debian/Ubuntu 软件包:coreutils 提供 sha256sum,xmlsec1,poppler-utils 提供 pdfsig 与 pdfdetach,
libnss3-tools 提供 certutil)。每一步都应输出其后 echo 的结果,任何 “FAILED” 都说明该文件不可信。
- 第 1 步核对每个文件的 SHA-256;第 2、3 步核对签名的清单 manifest.xml 及其记载的 SHA256SUMS;
- 第 4 步按 SIGNING-TIMES 中每张收据的签名时间(UTC)核验其 XML 签名与证书链——多年以后证书早已
  过期,因此以签名时的时间核验;
- 第 5、6 步核验 PDF 的 PAdES 签名覆盖全文,且 PDF 附带的 XML 与签名收据完全相同。
  多年以后 pdfsig 可能报告 “Certificate has Expired”,这是证书到期,不影响签名本身有效。
- 带签名时间戳的收据(XAdES-T)在签名的 xades:UnsignedProperties 中附有 RFC 3161 时间戳令牌,
  它不在签名范围内:xmlsec1 不核验它,第 6 步先去掉它再与 PDF 附件比较。令牌是对规范化
  (C14N 1.0)后的 ds:SignatureValue 元素所作的时间戳,可用 openssl ts -verify 核验。
务必先将 trust/ 中根证书的指纹与全国总工会公布的指纹比对:包内自带的根证书本身不能证明什么。

[English]
This package can be checked without this product, with generic tools. In the unpacked folder, run
the lines below that begin with "$ " (Debian/Ubuntu packages: coreutils for sha256sum, xmlsec1,
poppler-utils for pdfsig and pdfdetach, libnss3-tools for certutil). Each step should print the
text it echoes; any "FAILED" line names a file that cannot be trusted.
- Step 1 checks every file's SHA-256; steps 2 and 3 check the signed manifest (manifest.xml) and
  that SHA256SUMS is the one it names;
- step 4 checks each receipt's XML signature and certificate chain as of its signing time in UTC
  (SIGNING-TIMES): decades later the certificates have expired, so they are checked as of then;
- steps 5 and 6 check that each PDF's PAdES signature covers the whole file and that the XML
  attached to each PDF is exactly the signed receipt. Years later pdfsig may say "Certificate has
  Expired": the certificate's term has ended, the signature still holds.
- A receipt with a signature time-stamp (XAdES-T) carries an RFC 3161 token in its signature's
  xades:UnsignedProperties, outside what the signature covers: xmlsec1 does not check it, and
  step 6 removes it before comparing with the PDF's attachment. The token time-stamps the
  ds:SignatureValue element canonicalised with C14N 1.0; openssl ts -verify can check it.
First compare the fingerprints of the roots in trust/ with the ones the national federation
(中华全国总工会) publishes: a root that travels inside the package proves nothing on its own.

Trusted roots / 根证书:
{fingerprints}

Commands / 命令:
{block}
"""


def _commands(trusted: str, first_root: str, manifest_gmt: str, *, has_pdf: bool) -> list[str]:
    """The README's command lines (``# `` comments and ``$ `` commands), in the order to run."""
    commands = [
        "# 1. Fixity of every file / 每个文件的完整性",
        "$ sha256sum -c --quiet SHA256SUMS && echo 'files: all match SHA256SUMS'",
        "# 2. The manifest's signature (it lists every file with its SHA-256) / 清单签名",
        f'$ xmlsec1 --verify {trusted} --verification-gmt-time "{manifest_gmt}" manifest.xml'
        " && echo 'manifest: signature verified'",
        "# 3. SHA256SUMS is the one the signed manifest names / 清单中记载的 SHA256SUMS",
        '$ grep -qF "path=\\"SHA256SUMS\\" sha256=\\"$(sha256sum SHA256SUMS | cut -c1-64)\\""'
        " manifest.xml && echo 'SHA256SUMS: named by the signed manifest'",
        "# 4. Every receipt's signature, certificates checked as of its signing time / 收据签名",
        "$ fails=0; while read -r day time file; do xmlsec1 --verify"
        f' {trusted} --verification-gmt-time "$day $time" "$file" >/dev/null 2>&1'
        ' || { echo "FAILED: $file"; fails=1; }; done < SIGNING-TIMES;'
        " [ \"$fails\" = 0 ] && echo 'receipts: all signatures verified'",
    ]
    if has_pdf:
        commands += [
            "# 5. Every PDF's PAdES signature covers the whole file / PDF 签名覆盖全文",
            "$ rm -rf nssdb && mkdir nssdb && certutil -N -d sql:nssdb --empty-password"
            f" && certutil -A -d sql:nssdb -n root -t CT,C,C -i {first_root}",
            '$ fails=0; for f in pdf/*.pdf; do [ "$(pdfsig -nssdir sql:nssdb "$f" 2>&1'
            " | grep -cE 'Signature is Valid\\.|Total document signed')\" = 2 ]"
            ' || { echo "FAILED: $f"; fails=1; }; done;'
            " [ \"$fails\" = 0 ] && echo 'pdf: all signatures valid'",
            "# 6. Every PDF carries exactly its signed receipt XML (less the time-stamp, which"
            " came later) / PDF 附件即签名收据(时间戳之外)",
            "$ rm -rf attached && mkdir attached && fails=0; for f in pdf/*.pdf;"
            ' do n=$(basename "$f" .pdf); pdfdetach -save 1 -o "attached/$n.xml" "$f"'
            f" >/dev/null 2>&1 && LC_ALL=C sed '{_UNSTAMP}' \"receipts/$n.xml\""
            ' | cmp -s "attached/$n.xml" -'
            ' || { echo "FAILED: $f"; fails=1; }; done;'
            " [ \"$fails\" = 0 ] && echo 'pdf: every attachment is its receipt'",
        ]
    return commands
