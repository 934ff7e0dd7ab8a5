"""What a delivery looks like on the wire: the e-mail, the webhook body, the ledger line.

Pure functions of a `Delivery`, shared by the real sinks and by
`RecordingSink`, so `mu deploy`'s health check runs the same rendering code
before a release is promoted. Everything that reaches a mail header is made
printable first: a transaction id holding a line break must not add a header.

A mail is built by the `email` package (`email_message`), which costs most
of a millisecond per message, more than sending it; `email_bytes` writes
the same message directly when nothing in it needs encoding (plain ASCII
addresses and text, no line over 998 characters) — the usual case — and
falls back to the package otherwise. Written directly, a body line over 78
characters (a long transaction id) stays one 7bit line, within RFC 5322's
limit of 998, where the package would switch to quoted-printable.
"""

from __future__ import annotations

import email.policy
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.status import iso_time, printable

SIGNATURE_HEADER = "X-Mu-Signature"
IDEMPOTENCY_HEADER = "X-Mu-Idempotency-Key"
# An address `email_bytes` writes as it is: ASCII atoms, one @, a plain domain.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,255}")
_FOLD_AT = 78  # header lines are folded to this length where they can be (RFC 5322 §2.1.1)
_MAX_LINE = 998  # the limit of any line of a message


def _field(payload: Any, name: str) -> str:
    value = payload.get(name) if hasattr(payload, "get") else None
    return printable(value, 256) if isinstance(value, str) and value else "?"


def _transaction(payload: Any) -> tuple[str, str]:
    tx = payload.get("transaction")
    if not isinstance(tx, dict):
        return "?", "?"
    return _field(tx, "id"), _field(tx, "type")


def message_id(delivery: Delivery, sender: str) -> str:
    """`<hex@domain>` from the idempotency key: every retry of an action sends the same
    Message-ID, so a mail client shows a repeat once (the key itself is not atom text)."""
    digest = hashlib.sha256(delivery.idempotency_key.encode("utf-8")).hexdigest()[:40]
    domain = sender.rpartition("@")[2] or "mu.invalid"
    return f"<{digest}.mu@{domain}>"


def subject(delivery: Delivery) -> str:
    """`[mu] REJECT: transaction tx-1 (payment), control notify_on_reject`."""
    tx_id, tx_type = _transaction(delivery.payload)
    outcome = _field(delivery.payload, "outcome")
    return (
        f"[mu] {outcome}: transaction {tx_id} ({tx_type}), "
        f"control {printable(delivery.control_id, 256)}"
    )


def email_text(delivery: Delivery) -> str:
    """The plain-text body of a notification."""
    p = delivery.payload
    tx_id, tx_type = _transaction(p)
    return "\n".join([
        f"mu decided {_field(p, 'outcome')} for transaction {tx_id} (type {tx_type}).",
        "",
        f"control:     {printable(delivery.control_id, 256)}",
        f"decision:    {_field(p, 'decision_id')}",
        f"decided at:  {_field(p, 'decided_at')}",
        f"release:     {_field(p, 'release')}",
        f"key:         {printable(delivery.idempotency_key, 1024)}",
        "",
        "Sent by the mu decision service. A repeat of this message has the same",
        f"idempotency key ({IDEMPOTENCY_HEADER}) and Message-ID.",
        "",
    ])


def email_message(delivery: Delivery, sender: str, *, now: datetime | None = None) -> EmailMessage:
    """The notification as an e-mail from `sender` to the delivery's targets.

    Raises `ValueError` for a target that is not a usable address.
    """
    _check_targets(delivery)
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(delivery.targets)
    msg["Subject"] = subject(delivery)
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = message_id(delivery, sender)
    msg[IDEMPOTENCY_HEADER] = printable(delivery.idempotency_key, 1024)
    msg.set_content(email_text(delivery))
    return msg


def email_bytes(delivery: Delivery, sender: str, *, now: datetime | None = None) -> bytes:
    """The notification as sent by SMTP (CRLF line ends): `email_message`'s message.

    Raises `ValueError` for a target that is not a usable address.
    """
    plain = plain_email(delivery, sender, now=now)
    if plain is not None:
        return plain
    return email_message(delivery, sender, now=now).as_bytes(policy=email.policy.SMTP)


def plain_email(delivery: Delivery, sender: str, *, now: datetime | None = None
                ) -> bytes | None:
    """`email_message`'s message as SMTP sends it, written directly, when nothing in it
    needs encoding; else None. The headers are the same, in the same order, folded at
    spaces; the text is the same, 7bit.

    Raises `ValueError` for a target that is not a usable address.
    """
    _check_targets(delivery)
    if not all(_PLAIN_ADDRESS.fullmatch(a) for a in (sender, *delivery.targets)):
        return None
    body = email_text(delivery)
    if not body.isascii() or any(len(line) > _MAX_LINE for line in body.split("\n")):
        return None
    headers = (
        ("From", sender),
        ("To", ", ".join(delivery.targets)),
        ("Subject", subject(delivery)),
        ("Date", format_datetime(now or datetime.now(UTC))),
        ("Message-ID", message_id(delivery, sender)),
        (IDEMPOTENCY_HEADER, printable(delivery.idempotency_key, 1024)),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "7bit"),
        ("MIME-Version", "1.0"),
    )
    lines: list[str] = []
    for name, value in headers:
        # Encoded words ("=?utf-8?q?...?=") would be decoded by a reader: the package's job.
        if not value.isascii() or "=?" in value or value != value.strip():
            return None
        folded = _fold(f"{name}: {value}")
        if folded is None:
            return None
        lines += folded
    text = "\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")
    return text.encode("ascii")


def _fold(line: str) -> list[str] | None:
    """A header line folded before spaces into lines of at most `_FOLD_AT` characters
    where it can be (each continuation starts with its space), or None when a piece
    would be longer than `_MAX_LINE`."""
    out: list[str] = []
    current = ""
    for piece in re.findall(r" *[^ ]+| +", line):  # a word with the spaces before it
        if current.strip() and piece.strip() and len(current) + len(piece) > _FOLD_AT:
            out.append(current)
            current = piece
        else:
            current += piece
    out.append(current)
    return None if any(len(x) > _MAX_LINE for x in out) else out


def _check_targets(delivery: Delivery) -> None:
    for target in delivery.targets:
        if not target or not target.isprintable() or "," in target:
            raise ValueError(f"`{printable(target, 80)}` is not a mail address")


def webhook_body(delivery: Delivery) -> bytes:
    """The JSON a webhook receives: the payload plus the channel, compact, keys sorted."""
    data = {**delivery.payload, "channel": delivery.channel}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signature(secret: bytes, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of body>`, the value of `X-Mu-Signature`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def ledger_line(delivery: Delivery, ledger: str, *, now: float) -> bytes:
    """One JSON line for a ledger: the payload, the ledger's name and when it was written."""
    data = {**delivery.payload, "ledger": ledger, "recorded_at": iso_time(now)}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode() + b"\n"


def rendered(delivery: Delivery, sender: str, *, now: float) -> bytes:
    """The bytes `delivery` would put on the wire on its channel (for the recording sink)."""
    if delivery.channel == "smtp":
        return email_bytes(delivery, sender)
    if delivery.channel == "webhook":
        return webhook_body(delivery)
    if delivery.channel == "ledger":
        if not delivery.targets:
            raise ValueError("a ledger action names no ledger")
        return b"".join(ledger_line(delivery, name, now=now) for name in delivery.targets)
    raise ValueError(f"unknown channel `{printable(delivery.channel, 40)}`")
