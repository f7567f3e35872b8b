"""The time-stamp tokens this tier's authority makes for receipts that arrive without one, kept
on disk between the two passes of an import (docs/operations.md, "Importing large packages").

The tokens are made before the import's transaction (the authority records its serials in a
transaction of its own) and used when each receipt is checked, in the same listing order. Held
in a dict by member name, they cost ~3 KB a receipt for as long as the import ran: 3 GB for a
package of a million unstamped receipts. Here each token is appended to a temporary file as it
is made and read back as the check reaches its receipt, so memory stays at one record.
"""

from __future__ import annotations

import struct
import tempfile

__all__ = ["StampedHere"]

# Member name's length, token's length.
_HEADER = struct.Struct(">HI")
#: Kept in memory before the file goes to disk: a small package's tokens never touch it.
SPOOL_BYTES = 4 * 1024 * 1024


class StampedHere:
    """Tokens by member name: :meth:`add` them in the listing's order, then :meth:`take` each
    in that same order (a receipt whose name is not the next one's has none)."""

    def __init__(self, spool_bytes: int = SPOOL_BYTES) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115 (closed by close(), or with us)
        self._added = self._taken = 0
        self._reading = False
        self._next: tuple[str, bytes] | None = None

    def __len__(self) -> int:
        """Tokens not taken yet."""
        return self._added - self._taken

    def add(self, name: str, token: bytes) -> None:
        """Keep the token made for member ``name``."""
        if self._reading:
            raise RuntimeError("tokens are added before any is taken")
        encoded = name.encode("utf-8")
        self._file.write(_HEADER.pack(len(encoded), len(token)) + encoded + token)
        self._added += 1

    def take(self, name: str) -> bytes | None:
        """The token made for ``name`` when it is the next one kept, else None."""
        if not self._reading:
            self._reading = True
            self._file.seek(0)
            self._next = self._read()
        if self._next is None or self._next[0] != name:
            return None
        token = self._next[1]
        self._taken += 1
        self._next = self._read()
        return token

    def close(self) -> None:
        """Give the temporary file back (it has no name: nothing is left on disk either way)."""
        self._file.close()

    def _read(self) -> tuple[str, bytes] | None:
        header = self._file.read(_HEADER.size)
        if not header:
            return None
        name_size, token_size = _HEADER.unpack(header)
        name = self._file.read(name_size).decode("utf-8")
        return name, self._file.read(token_size)
