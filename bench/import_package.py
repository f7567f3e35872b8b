"""The package ``bench/import.py`` imports: N receipts issued by a city federation through the
real commands (``stock allocate``, ``issue --batch`` with its signing workers, ``transmit
export``), cached under the temporary directory by N so a rerun does not sign again; the
package is cached by format version too (``package-v2.zip``), exported again from the cached
city workspace when the format changes.

    python -m bench.import_package --n 10000      (builds and caches; prints the path)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from receipts.commands.demo_files import batch_csv
from receipts.transmission.package import VERSION
from tests.support.workspaces import federation, ok

__all__ = ["CITY", "PROVINCE", "cached_package"]

PROVINCE, CITY = "640000", "640100"
#: Rows per ``issue --batch`` run: the batch file limit is 64 MiB (~200,000 rows).
_BATCH = 50_000


def cache_dir(n: int) -> Path:
    """Where the package of ``n`` receipts is kept."""
    return Path(tempfile.gettempdir()) / "receipts-bench-import" / str(n)


def cached_package(n: int) -> Path:
    """The package of ``n`` receipts, built once."""
    folder = cache_dir(n)
    package = folder / f"package-v{VERSION}.zip"
    if package.exists():
        return package
    province, city = folder / "province", folder / "city"
    # The receipts are there (a package of another version was exported): export them again.
    if (folder / "issued").exists() or any(folder.glob("package*.zip")):
        return _export(city, package)
    folder.mkdir(parents=True, exist_ok=True)
    federation(province, PROVINCE)
    federation(city, CITY)
    ok(province, "org", "add", "--code", CITY)
    allocation = folder / "allocation.xml"
    ok(province, "stock", "allocate", "--to", CITY, "--count", str(n), "-o", str(allocation))
    ok(city, "stock", "import", str(allocation))
    for start in range(0, n, _BATCH):
        rows = min(_BATCH, n - start)
        batch = folder / "batch.csv"
        batch.write_text(batch_csv(rows, start, f"B{start}-"), encoding="utf-8")
        ok(city, "issue", "--batch", str(batch))
        batch.unlink()
    (folder / "issued").touch()
    return _export(city, package)


def _export(city: Path, package: Path) -> Path:
    partial = package.with_name(package.name + ".part")
    ok(city, "transmit", "export", "-o", str(partial))
    partial.rename(package)
    return package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000)
    print(cached_package(parser.parse_args().n))


if __name__ == "__main__":
    main()
