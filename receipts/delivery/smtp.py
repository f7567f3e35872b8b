"""Talking to the mail server (docs/delivery.md, "Outcomes"): one connection per run, STARTTLS
with the certificate verified, AUTH over TLS only, and each message sent step by step so that
every failure is classed by *where* it happened.

Before the message body is handed over (MAIL, RCPT, the DATA command) a failure is certain: the
server did not take the message, so it may be tried again. Once the body is on its way, a lost
connection leaves the outcome unknown: the server may have accepted it. That one case is
:attr:`Outcome.UNKNOWN`, and the caller never sends it again on its own.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from enum import StrEnum

from receipts.delivery.config import SmtpConfig
from receipts.errors import EnvironmentFailure

__all__ = ["Outcome", "SendResult", "SmtpSession", "Unreachable"]

_REPLY_MAX = 300
_LEADING_DOT = re.compile(rb"(?m)^\.")


class Outcome(StrEnum):
    """What became of one message."""

    SENT = "sent"
    """The server accepted it (250 after the body)."""
    BOUNCED = "bounced"
    """Refused for good (5xx at RCPT or after the body): never tried again."""
    DEFERRED = "deferred"
    """Refused for now (4xx) or not handed over (connection lost before the body)."""
    UNKNOWN = "unknown"
    """The connection was lost after the body was sent: it may have been accepted."""


@dataclass(frozen=True)
class SendResult:
    """One message's outcome and the server's words."""

    outcome: Outcome
    code: int | None
    """The SMTP reply code (None: no reply, the connection was lost)."""
    reply: str
    """The reply, or what went wrong, in one line of at most 300 characters."""
    stop: bool = False
    """The server refused our sender (5xx at MAIL): no message of this run can go."""


class Unreachable(Exception):
    """The server cannot be reached or talked to for now (connection refused, 4xx greeting)."""


class SmtpSession:
    """A connection to the configured server, opened on first use and reopened after a loss."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect, STARTTLS, log in. :class:`Unreachable` for what may pass (retry later),
        :class:`EnvironmentFailure` for what will not (bad certificate, credentials refused)."""
        if self._smtp is not None:
            return
        cfg = self.config
        where = f"SMTP server {cfg.host}:{cfg.port}"
        smtp: smtplib.SMTP | None = None
        try:
            # The host is given here, not to connect(): TLS checks the certificate against
            # the host the object was made with.
            if cfg.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=self._tls_context()
                )
            else:
                smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            self._handshake(smtp)
        except ssl.SSLCertVerificationError as exc:
            _quietly_close(smtp)
            raise EnvironmentFailure(
                f"{where}: certificate not trusted ({exc.verify_message})"
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(smtp)
            raise EnvironmentFailure(
                f"{where} refused user {cfg.username!r}: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            _quietly_close(smtp)
            raise EnvironmentFailure(f"{where}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            _quietly_close(smtp)
            if exc.smtp_code >= 500:
                reply = _reply(exc.smtp_code, exc.smtp_error)
                raise EnvironmentFailure(f"{where}: {reply}") from None
            raise Unreachable(_reply(exc.smtp_code, exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:
            _quietly_close(smtp)
            raise Unreachable(f"{cfg.host}:{cfg.port}: {exc or type(exc).__name__}") from None
        except BaseException:
            _quietly_close(smtp)
            raise
        self._smtp = smtp

    def _handshake(self, smtp: smtplib.SMTP) -> None:
        cfg = self.config
        smtp.ehlo()
        if cfg.starttls:
            if not smtp.has_extn("starttls"):
                raise EnvironmentFailure(
                    f"SMTP server {cfg.host}:{cfg.port} does not offer STARTTLS"
                )
            smtp.starttls(context=self._tls_context())
            smtp.ehlo()
        if cfg.username is not None:
            smtp.login(cfg.username, cfg.password or "")

    def _tls_context(self) -> ssl.SSLContext:
        """The system's CAs (or ``ca_file``), host name checked, TLS 1.2 at least."""
        cafile = None if self.config.ca_file is None else str(self.config.ca_file)
        context = ssl.create_default_context(cafile=cafile)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def send(self, sender: str, address: str, message: bytes) -> SendResult:
        """Send ``message`` (CRLF line ends) from ``sender`` to ``address`` alone."""
        self.open()
        smtp = self._smtp
        assert smtp is not None
        try:
            code, text = smtp.mail(sender)
            if code != 250:
                self._reset()
                # A refused sender is the configuration's fault, not this message's: it is
                # deferred, and a permanent refusal stops the run.
                return SendResult(Outcome.DEFERRED, code, _reply(code, text), stop=code >= 500)
            code, text = smtp.rcpt(address)
            if code not in (250, 251):
                self._reset()
                return SendResult(_refusal(code), code, _reply(code, text))
            smtp.putcmd("data")
            code, text = smtp.getreply()
            if code != 354:
                self._reset()
                return SendResult(_refusal(code), code, _reply(code, text))
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return SendResult(Outcome.DEFERRED, None, _line(f"connection lost: {exc}"))
        # From here on the body is on its way: a loss leaves the outcome unknown.
        try:
            body = _LEADING_DOT.sub(b"..", message)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            smtp.send(body + b".\r\n")
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            lost = _line(f"connection lost after the body: {exc}")
            return SendResult(Outcome.UNKNOWN, None, lost)
        if code == 250:
            return SendResult(Outcome.SENT, code, _reply(code, text))
        return SendResult(_refusal(code), code, _reply(code, text))

    def close(self) -> None:
        """Say QUIT if the server still listens; forget the connection either way."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            _quietly_close(smtp)

    def _reset(self) -> None:
        smtp = self._smtp
        if smtp is None:
            return
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.close()


def _refusal(code: int) -> Outcome:
    return Outcome.BOUNCED if code >= 500 else Outcome.DEFERRED


def _reply(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return _line(f"{code} {words}")


def _line(text: str) -> str:
    return " ".join(text.split())[:_REPLY_MAX]


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
