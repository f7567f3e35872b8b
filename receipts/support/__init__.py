"""Generic helpers with no domain knowledge: atomic file writes, safe zip packages, text decoding
of the files we read, worker pools."""
