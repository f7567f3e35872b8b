"""The receipts package's errors: one root, precise subclasses (shaped like python-stdnum's)."""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DuplicateBooking",
    "EnvironmentFailure",
    "InvalidAmount",
    "InvalidInput",
    "InvalidReceipt",
    "NotPermitted",
    "ReceiptError",
    "SchemaError",
    "StockExhausted",
    "WorkspaceError",
]


class ReceiptError(Exception):
    """Root of every error the receipts package raises on purpose."""

    #: The CLI's exit code for this kind of error (docs/formats.md): 1 problems found, 2 bad input,
    #: 3 the environment failed.
    exit_code = 2


class InvalidInput(ReceiptError):
    """Input from outside (an option, a file, a row) is not acceptable."""


class InvalidAmount(InvalidInput):
    """An amount is not a whole number of fen within the allowed range."""


class InvalidReceipt(InvalidInput):
    """A receipt breaks a rule of the model (field limits, cross-field consistency)."""


class SchemaError(InvalidReceipt):
    """An XML document does not conform to its schema; ``error_log`` holds lxml's entries."""

    def __init__(self, message: str, error_log: object | None = None) -> None:
        super().__init__(message)
        self.error_log = error_log


class NotPermitted(ReceiptError):
    """An operator's role does not allow the action, or the operator is unknown, disabled or not
    authenticated (docs/security.md, "Operators and key slots"); exit 2, changes nothing."""


class WorkspaceError(ReceiptError):
    """A workspace is missing, already exists, or is of the wrong kind."""


class ConfigurationError(WorkspaceError):
    """A workspace's configuration file is missing or wrong."""


class StockExhausted(ReceiptError):
    """No receipt number is left in the segments a federation holds."""

    exit_code = 1


class DuplicateBooking(ReceiptError):
    """A payer tried to book a receipt a second time."""

    exit_code = 1


class EnvironmentFailure(ReceiptError):
    """The environment failed: database unreachable, disk full, a tool missing."""

    exit_code = 3
