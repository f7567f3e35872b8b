"""Issuing: numbers from allocated stock, signing in worker processes, reversal, periods and the
organisation registry."""
