"""Compose emails from paired .txt/.html templates and hand them to a sender chosen by config.

Composing never sends; senders never compose. Backends: smtp, console (development without
MAIL_SERVER), memory (tests). Nothing here is called from inside a web request's transaction:
the outbox job (services/outbox.py) calls it.
"""
from __future__ import annotations

import io
import re
import smtplib
import sys
import threading
import time
from functools import lru_cache
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, getaddresses, make_msgid
from typing import Self

from flask import current_app, render_template

from .i18n import catalog_fixed

# Messages "sent" by the memory backend (tests read this list).
memory_outbox: list[EmailMessage] = []


class _LazyHeaderPolicy(EmailPolicy):
    """The default policy, but a short single-line ASCII header is stored as text and parsed only
    when read — as for a message parsed from source. Parsing every header on assignment was a third
    of the time it took to compose a digest. Anything else (non-ASCII, long, or a line break, which
    the default policy refuses) goes through the default policy unchanged."""

    def header_store_parse(self, name, value):
        if isinstance(value, str) and value.isascii() and len(value) < 900 and "\n" not in value and "\r" not in value:
            return (name, value)
        return super().header_store_parse(name, value)

    def header_fetch_parse(self, name, value):
        # A header kept as text is parsed each time it is read, and sending reads the same few many
        # times (smtplib looks up the addresses, the generator every part's Content-Type): the
        # parsed headers are kept. They are immutable, so one object may serve every message.
        if hasattr(value, "name"):
            return value
        return _parsed_header(self.header_factory, name, value, self)


def _parsed_header(factory, name: str, value: str, policy: EmailPolicy):
    # Keyed by the header factory, not the policy: flattening works with a clone of the policy
    # (another line separator), and keyed by policy every header read then was a miss. The parsed
    # header depends on the factory alone (EmailPolicy.header_fetch_parse calls it, nothing else).
    key = (factory, name, value)
    try:
        return _PARSED[key]
    except KeyError:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        parsed = _PARSED[key] = EmailPolicy.header_fetch_parse(policy, name, value)
        return parsed


_PARSED: dict = {}
_PARSED_MAX = 4096


_POLICY = _LazyHeaderPolicy()

# The boundary between the text and the HTML part. The generator would draw a random one per
# message, which makes every message's Content-Type a header never parsed before (see
# _parsed_header); it only has to be absent from the parts, which compose() checks.
_BOUNDARY = "=_nlwerktdoor-alternative_="


def compose(template: str, locale: str, recipient: str, data: dict, message_id: str | None = None) -> EmailMessage:
    """Render email/<template>.txt and .html in the recipient's language into one message.
    The subject is the first line of the .txt template ("Subject: …")."""
    with catalog_fixed(locale):
        text = render_template(f"email/{template}.txt", **data)
        html = render_template(f"email/{template}.html", **data)
    first_line, _, body = text.partition("\n")
    subject = first_line.removeprefix("Subject:").strip()
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain="nlwerktdoor.nl")
    message.set_content(body.lstrip("\n"))
    message.add_alternative(html, subtype="html")
    if _BOUNDARY not in body and _BOUNDARY not in html:
        message.set_boundary(_BOUNDARY)
    # After the content: set_content() clears every Content-* header, this one included.
    message["Content-Language"] = locale
    return message


# One plain ASCII address, as our To headers are (rows hold the address the user gave).
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def _plain_envelope(message: EmailMessage) -> tuple[str, list[str]] | None:
    """(sender, [recipient]) read from the raw From and To headers, as smtplib's send_message
    would find them, without parsing the headers: for each message that parse (of a To header
    never seen before) was a tenth of the sender's CPU. None for anything but one plain ASCII
    recipient, a From given as text, and no Bcc, Cc, Sender or Resent- headers: send_message
    handles those."""
    raw: dict[str, str] = {}
    for name, value in message.raw_items():
        key = name.lower()
        if key in ("cc", "bcc", "sender") or key.startswith("resent-"):
            return None
        if key in ("from", "to"):
            if key in raw or not isinstance(value, str):
                return None
            raw[key] = value
    recipient, sender = raw.get("to", ""), _envelope_sender(raw.get("from", ""))
    if sender is None or not _PLAIN_ADDRESS.fullmatch(recipient):
        return None
    return sender, [recipient]


@lru_cache(maxsize=64)
def _envelope_sender(from_header: str) -> str | None:
    """The address of a From header (MAIL_DEFAULT_SENDER: the same for every message)."""
    if not from_header.isascii():
        return None
    addresses = getaddresses([from_header])
    return addresses[0][1] if len(addresses) == 1 and addresses[0][1] else None


def _flat_bytes(message: EmailMessage) -> bytes:
    """The message as smtplib's send_message flattens it for a plain ASCII envelope."""
    with io.BytesIO() as out:
        BytesGenerator(out).flatten(message, linesep="\r\n")
        return out.getvalue()


def _backend_name() -> str:
    configured = current_app.config.get("MAIL_BACKEND")
    if configured:
        return configured
    return "smtp" if current_app.config.get("MAIL_SERVER") else "console"


class RateLimiter:
    """Paces sends to at most `per_second` (0 or less: no limit). Monotonic clock; injectable for tests."""

    def __init__(self, per_second: float, clock=None, sleep=None):
        self.interval = 1.0 / per_second if per_second and per_second > 0 else 0.0
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.lock = threading.Lock()
        self.next_slot: float | None = None

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:  # threads take turns for slots; they sleep outside the lock
            now = self.clock()
            slot = now if self.next_slot is None or self.next_slot <= now else self.next_slot
            # No bursts after a pause: the next slot counts from now, not from a slot missed long ago.
            self.next_slot = slot + self.interval
        if slot > now:
            self.sleep(slot - now)


class Sender:
    """Sends a batch over one connection (use as a context manager), at most MAIL_RATE_PER_SECOND.

    The connection is opened on entering; `reconnect()` opens a new one after the server hung up."""

    def __init__(self, limiter: RateLimiter | None = None):
        # Senders working side by side share one limiter, so the setting limits them together.
        self.limiter = limiter or RateLimiter(float(current_app.config.get("MAIL_RATE_PER_SECOND") or 0))
        self.backend = _backend_name()
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Self:
        if self.backend == "smtp":
            self.smtp = self._connect()
        return self

    def _connect(self) -> smtplib.SMTP:
        cfg = current_app.config
        smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=cfg.get("MAIL_TIMEOUT_SECONDS", 30))
        try:
            if cfg.get("MAIL_USE_TLS"):
                smtp.starttls()
            if cfg.get("MAIL_USERNAME"):
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def reconnect(self) -> None:
        """Drop the old connection (the server closed it) and open a new one; raises when that fails."""
        self._close()
        if self.backend == "smtp":
            self.smtp = self._connect()

    def send(self, message: EmailMessage) -> None:
        self.limiter.wait()
        if self.backend == "smtp":
            envelope = _plain_envelope(message)
            if envelope is None:
                self.smtp.send_message(message)
            else:
                self.smtp.sendmail(*envelope, _flat_bytes(message))
        elif self.backend == "memory":
            memory_outbox.append(message)
        else:
            print("-" * 72, file=sys.stdout)
            print(_console_text(message), file=sys.stdout)
            sys.stdout.flush()

    def _close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def __exit__(self, *exc) -> None:
        self._close()


def _console_text(message: EmailMessage) -> str:
    plain = message.get_body(("plain",))
    body = plain.get_content() if plain is not None else ""
    return f"To: {message['To']}\nSubject: {message['Subject']}\nMessage-ID: {message['Message-ID']}\n\n{body}"
