"""``transmit import`` of a large package on PostgreSQL: receipts/s and peak RSS, beside a bare
COPY of the same rows in the same run.

    python -m bench.import --pg URL [--n 1000000] [--workers N] [--chunk 2000]
    python -m bench.import --directory [--n N | --synthetic N]
    python -m bench.import --export [--n N]

The package (N receipts issued by a city federation through the real commands, exported) is
built once and cached by N (:mod:`bench.import_package`). Ours: ``receipts transmit import``
through the command, into a fresh schema, in a child process (:func:`bench.growth_steps.child`)
whose peak RSS is its own VmHWM (``ru_maxrss`` would carry the parent's peak over the fork); the
verifying workers' largest ``ru_maxrss`` is reported beside it. Baseline: the receipts and
their items the import stored, copied out to a file and then COPYed into plain tables (no
indexes, no constraints) in the same database, with the server's default compression (pglz:
the ratio's baseline, as before migration 0019) and again with the ledger's own (the XML's LZ4),
both printed. Target: >= 0.3x the COPY rate, peak RSS <= 500 MB. Beside them, for what the
import must do whatever it stores: the package opened and every receipt read and verified as the
import does it (same workers and chunks), the results dropped; the import's rate as a share of it.

``--directory``: the peak RSS of reading the package's central directory alone, zipfile's
``infolist()`` (what the import kept before) against :mod:`receipts.support.zip_directory`, each
in a process of its own; ``--synthetic N`` measures it on a zip of N tiny receipt members
written by :class:`receipts.support.zip_writer.ZipWriter` (no signing: a million in a minute).
``--export``: ``transmit export`` of the cached package's N receipts from a copy of the city's
workspace (SQLite), in a child process: seconds and peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.growth_steps import child
from bench.import_package import CITY, cache_dir, cached_package
from receipts.support.zip_writer import ZipWriter
from receipts.transmission.import_settings import ImportSettings
from tests.support.postgres import PgSchemas
from tests.support.workspaces import receipts

_DIRECTORY_CHILD = """
import sys, zipfile
from bench.growth_steps import peak_rss_mb
from receipts.support.zip_directory import read_directory
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.package_stream import _ReceiptNames
path, how = sys.argv[1], sys.argv[2]
before = peak_rss_mb()
if how == "zipfile":
    with zipfile.ZipFile(path) as archive:
        members = len(archive.infolist())
else:
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        found = read_directory(handle, size, ImportSettings().zip_limits, _ReceiptNames(), path)
        members = found.keyed_count + len(found.others)
print(members, before, peak_rss_mb())
"""

# The import's own reading and verification, and nothing else: the package opened as the import
# opens it (manifest verified), every listed receipt read and verified in the same workers and
# chunks, the results dropped. No ledger, no listing check, no events.
_VERIFY_CHILD = """
import json, sys, time
from pathlib import Path
from signing.trust import TrustBundle
from receipts.domain.signed_documents import chain_validator
from receipts.transmission.import_settings import ImportSettings
from receipts.transmission.package_stream import open_package
from receipts.transmission.received_receipts import listed_members
from receipts.transmission.verify_pool import verified_chunks
from signing.xades_t import DEFAULT_TOLERANCE
package, bundle, workers, chunk = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
validator = chain_validator(TrustBundle.load(bundle))
start = time.perf_counter()
count = 0
with open_package(package, validator, package.name, ImportSettings()) as opened:
    members = listed_members(opened)
    with verified_chunks(
        members, validator, DEFAULT_TOLERANCE, workers=workers, chunk=chunk
    ) as chunks:
        for verified in chunks:
            bad = [v for v in verified if v.problem is not None]
            assert not bad, bad[0].problem
            count += len(verified)
print(json.dumps({"count": count, "seconds": time.perf_counter() - start}))
"""


def verification_alone(n: int, tmp: Path, workers: int, chunk: int) -> float:
    """Seconds the import's reading and verification of the package take by themselves."""
    bundle = tmp / "province" / "trust" / "bundle.pem"
    printed = _script(_VERIFY_CHILD, str(cached_package(n)), str(bundle), str(workers), str(chunk))
    found = json.loads(printed.strip().splitlines()[-1])
    assert found["count"] == n, found
    return float(found["seconds"])


def _script(script: str, *args: str) -> str:
    """What ``script`` prints, run by this Python in a process of its own from the repository
    root (its peak RSS and its workers are its own)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"a measuring child failed:\n{done.stderr[-3000:]}")
    return done.stdout


def province_home(n: int, tmp: Path, url: str) -> Path:
    """A province workspace with the cached package's trust and keys, on a fresh ledger that
    knows the city and the segment its receipts lie in."""
    home = tmp / "province"
    source = cache_dir(n) / "province"
    shutil.copytree(source, home, ignore=shutil.ignore_patterns("ledger.sqlite*", "ledger-anchor*"))
    for args in (
        ("org", "add", "--code", CITY),
        ("stock", "allocate", "--to", CITY, "--count", str(n), "-o", str(tmp / "a.xml")),
    ):
        result = receipts(home, *args, db=url)
        assert result.exit_code == 0, result.output
    return home


def ours(n: int, tmp: Path, url: str, workers: int | None, chunk: int) -> dict[str, float]:
    """``transmit import`` in a child process: seconds, peak RSS of the importer and workers."""
    package = cached_package(n)
    home = province_home(n, tmp, url)
    table = ["[transmission]", f"import_chunk = {chunk}"]
    if workers is not None:
        table.append(f"import_workers = {workers}")
    config = home / "receipts.toml"
    config.write_text(config.read_text("utf-8") + "\n" + "\n".join(table) + "\n", "utf-8")
    args = ["--home", str(home), "--db", url, "transmit", "import", str(package)]
    args += ["-o", str(tmp / "ack.xml")]
    found = child({"op": "command", "args": args})
    if found["exit"] != 0:
        raise SystemExit(f"transmit import failed:\n{found['stdout']}\n{found['stderr'][-3000:]}")
    return found


def directory_rss(package: Path) -> dict[str, tuple[int, float, float]]:
    """Members, VmHWM before reading and after, of zipfile's directory and of ours."""
    found = {}
    for how in ("zipfile", "compact"):
        members, before, after = _script(_DIRECTORY_CHILD, str(package), how).split()
        found[how] = (int(members), float(before), float(after))
    return found


def synthetic_package(n: int, folder: Path) -> Path:
    """A zip of ``n`` receipt members of a few bytes each and a manifest, as export names
    them (directory measurements only: nothing in it is signed)."""
    path = folder / f"synthetic-{n}.zip"
    if path.exists():
        return path
    with open(path.with_suffix(".part"), "wb") as out:
        writer = ZipWriter(out)
        writer.add("events.jsonl", b"{}\n")
        for number in range(n):
            writer.add(f"receipts/64710126-{number:010d}.xml", b"<Receipt/>")
        writer.add("manifest.xml", b"<Transmission/>")
        writer.close()
    path.with_suffix(".part").rename(path)
    return path


def export_rss(n: int) -> None:
    """``transmit export`` of the cached city's receipts, from a copy of its workspace."""
    cached_package(n)
    with tempfile.TemporaryDirectory(dir=cache_dir(n)) as tmp:
        city = Path(tmp) / "city"
        shutil.copytree(cache_dir(n) / "city", city)
        out = Path(tmp) / "export.zip"
        found = child(
            {"op": "command", "args": ["--home", str(city), "transmit", "export", "-o", str(out)]}
        )
        if found["exit"] != 0:
            raise SystemExit(f"transmit export failed:\n{found['stdout']}\n{found['stderr']}")
        size = out.stat().st_size
    print(
        f"transmit export of {n:,} receipts: {found['seconds']:.1f} s, {n / found['seconds']:.0f}"
        f" receipts/s, peak RSS {found['rss_mb']:.0f} MB VmHWM, {size / 2**20:.0f} MiB written"
    )


def print_directory(package: Path) -> None:
    for how, (members, before, after) in directory_rss(package).items():
        print(
            f"{how:8} central directory of {members:,} members: peak RSS {after:.0f} MB "
            f"({before:.0f} MB before reading; {(after - before) * 2**20 / members:.0f} B/member)"
        )


def bare_copy(url: str, tmp: Path) -> tuple[int, dict[str, float]]:
    """The receipts and items the import stored, COPYed into plain tables twice: with the
    server's default compression, and with the ledger's own (the XML's LZ4, migration 0019).
    (receipts, {how: seconds})."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    schema = dsn.rsplit("search_path%3D", 1)[-1] if "search_path%3D" in dsn else None
    files = {name: tmp / f"{name}.copy" for name in ("receipts", "receipt_items")}
    seconds: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        if schema:
            conn.execute(f"SET search_path TO {schema}")
        for name, path in files.items():
            with (
                open(path, "wb") as sink,
                conn.cursor().copy(f"COPY (SELECT * FROM {name}) TO STDOUT") as copy,
            ):
                for block in copy:
                    sink.write(block)
        count = conn.execute("SELECT count(*) FROM receipts").fetchone()
        for how, like in (("default", ""), ("ledger", " INCLUDING COMPRESSION")):
            for name in files:
                conn.execute(f"CREATE TABLE {how}_{name} (LIKE {name} INCLUDING DEFAULTS{like})")
            start = time.perf_counter()
            with conn.transaction():
                for name, path in files.items():
                    with (
                        open(path, "rb") as source,
                        conn.cursor().copy(f"COPY {how}_{name} FROM STDIN") as copy,
                    ):
                        while block := source.read(1 << 20):
                            copy.write(block)
            seconds[how] = time.perf_counter() - start
    assert count is not None
    return int(count[0]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("RECEIPTS_TEST_PG_URL"))
    parser.add_argument("--workers", type=int, default=None, help="default: the CPU count")
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--directory", action="store_true", help="the central directory alone")
    parser.add_argument("--export", action="store_true", help="transmit export, not import")
    parser.add_argument("--synthetic", type=int, help="with --directory: a zip of N members")
    args = parser.parse_args()
    if args.export:
        export_rss(args.n)
        return
    if args.directory:
        if args.synthetic:
            print_directory(synthetic_package(args.synthetic, cache_dir(args.synthetic).parent))
        else:
            print_directory(cached_package(args.n))
        return
    if not args.pg:
        parser.error("--pg URL (or RECEIPTS_TEST_PG_URL) is needed: the target is PostgreSQL")
    cached_package(args.n)
    schemas = PgSchemas(args.pg, prefix="bench_import")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = schemas.new()
            measured = ours(args.n, Path(tmp), url, args.workers, args.chunk)
            count, copy_seconds = bare_copy(url, Path(tmp))
            workers = ImportSettings(workers=args.workers).worker_count  # as the import's
            verify_seconds = verification_alone(args.n, Path(tmp), workers, args.chunk)
    finally:
        schemas.drop_all()
    assert count == args.n, f"{count} receipts stored, {args.n} expected"
    rate = args.n / measured["seconds"]
    baseline = args.n / copy_seconds["default"]
    stored_alike = args.n / copy_seconds["ledger"]
    verify_rate = args.n / verify_seconds
    print(f"bare COPY of receipts + items into plain tables: {baseline:10.0f} receipts/s")
    print(f"  the same, the XML compressed as the ledger does: {stored_alike:8.0f} receipts/s")
    print(
        f"transmit import ({workers} workers, chunk {args.chunk}): {rate:10.0f} receipts/s  "
        f"ratio {rate / baseline:.3f}x (target >= 0.3x); "
        f"{rate / stored_alike:.3f}x the second"
    )
    print(
        f"the import's reading and verification alone, same workers: {verify_rate:8.0f} "
        f"receipts/s; the import runs at {rate / verify_rate:.3f}x of it"
    )
    print(
        f"peak RSS: importer {measured['rss_mb']:.0f} MB VmHWM (target <= 500 MB), "
        f"largest worker {measured['children_rss_mb']:.0f} MB; {args.n:,} receipts; "
        f"{measured['seconds']:.1f} s"
    )


if __name__ == "__main__":
    main()
