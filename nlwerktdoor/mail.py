"""Compose emails from paired .txt/.html templates and hand them to a sender chosen by config.

Composing never sends; senders never compose. Backends: smtp, console (development without
MAIL_SERVER), memory (tests). Nothing here is called from inside a web request's transaction:
the outbox job (services/outbox.py) calls it.
"""
from __future__ import annotations

import smtplib
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app, render_template
from flask_babel import force_locale

# Messages "sent" by the memory backend (tests read this list).
memory_outbox: list[EmailMessage] = []


def compose(template: str, locale: str, recipient: str, data: dict, message_id: str | None = None) -> EmailMessage:
    """Render email/<template>.txt and .html in the recipient's language into one message.
    The subject is the first line of the .txt template ("Subject: …")."""
    with force_locale(locale):
        text = render_template(f"email/{template}.txt", **data)
        html = render_template(f"email/{template}.html", **data)
    first_line, _, body = text.partition("\n")
    subject = first_line.removeprefix("Subject:").strip()
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id or make_msgid(domain="nlwerktdoor.nl")
    message["Content-Language"] = locale
    message.set_content(body.lstrip("\n"))
    message.add_alternative(html, subtype="html")
    return message


def _backend_name() -> str:
    configured = current_app.config.get("MAIL_BACKEND")
    if configured:
        return configured
    return "smtp" if current_app.config.get("MAIL_SERVER") else "console"


class Sender:
    """Sends a batch over one connection; use as a context manager."""

    def __enter__(self) -> "Sender":
        self.backend = _backend_name()
        self.smtp = None
        if self.backend == "smtp":
            cfg = current_app.config
            self.smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30)
            if cfg.get("MAIL_USE_TLS"):
                self.smtp.starttls()
            if cfg.get("MAIL_USERNAME"):
                self.smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"] or "")
        return self

    def send(self, message: EmailMessage) -> None:
        if self.backend == "smtp":
            self.smtp.send_message(message)
        elif self.backend == "memory":
            memory_outbox.append(message)
        else:
            print("-" * 72, file=sys.stdout)
            print(_console_text(message), file=sys.stdout)
            sys.stdout.flush()

    def __exit__(self, *exc) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except smtplib.SMTPException:
                self.smtp.close()


def _console_text(message: EmailMessage) -> str:
    plain = message.get_body(("plain",))
    body = plain.get_content() if plain is not None else ""
    return f"To: {message['To']}\nSubject: {message['Subject']}\nMessage-ID: {message['Message-ID']}\n\n{body}"
