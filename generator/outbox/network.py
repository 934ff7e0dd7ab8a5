"""The network sinks: mail through `[smtp]`, JSON POSTs to `[webhook]`.

Each keeps one connection per thread (a worker's attempt thread) open
between deliveries: a new TCP connection, greeting, STARTTLS and login per
message would cost more than the message. A connection is dropped after any
error that may have left it in an unknown state, and after `IDLE_SECONDS`
unused (servers close idle ones; reconnecting is cheaper than finding out).
When a kept connection turns out to be closed by the server on first use, the
delivery is sent once more on a new one; a repeat that results (the server
took the message, then the connection broke before its answer) carries the
same idempotency key, by which receivers drop it. `close_thread()` closes the
calling thread's connection; `close()` every one.

Every call has its own socket timeout, set per delivery (the worker adds an
outer one, so even a handler that ignores it cannot hold others up).

- `SmtpSink` (`smtplib`): one message per delivery (`render.email_bytes`),
  each with its own Message-ID and `X-Mu-Idempotency-Key`; STARTTLS and login
  when configured, the password read from the environment when connecting. A
  partly refused recipient list is an error, so the retry reaches everyone.
- `WebhookSink`: `http.client` directly, never `urllib`, so no proxy
  environment variable can reroute a signed body and no redirect is followed.
  HTTP/1.1 keep-alive; POST of JSON with `Idempotency-Key` and, when
  `secret_env` is set, `X-Mu-Signature: sha256=<HMAC of the body>`; any
  status but 2xx is an error.
"""

from __future__ import annotations

import contextlib
import http.client
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from mu.generator.outbox import render
from mu.generator.outbox.config import SmtpConfig, WebhookConfig
from mu.generator.outbox.plan import Delivery
from mu.generator.outbox.protocol import DeliveryError, secret
from mu.generator.outbox.status import printable

MAX_RESPONSE_BYTES = 64 * 1024  # of a webhook's answer: read (to reuse the connection), dropped
IDLE_SECONDS = 30.0  # a connection unused this long is closed and opened anew
_QUIT_SECONDS = 1.0  # for a polite QUIT when closing a mail connection
_STALE_HTTP = (http.client.RemoteDisconnected, ConnectionError)
# Errors after which smtplib has reset the transaction (RSET): the connection is still good.
_CLEAN_SMTP = (smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)
_CLOSING = 421  # an SMTP server's "closing the connection" (after idling, say)

C = TypeVar("C")


class _Connections(Generic[C]):
    """One connection per thread, each with when it was last used; `close` drops them all."""

    def __init__(self, closer: Callable[[C], None]) -> None:
        self._closer = closer
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: dict[int, C] = {}  # by id, to close every one

    def get(self) -> C | None:
        """The calling thread's connection, unless it idled too long (then closed)."""
        connection: C | None = getattr(self._local, "connection", None)
        if connection is not None and time.monotonic() - self._local.used > IDLE_SECONDS:
            self.drop()
            return None
        return connection

    def keep(self, connection: C) -> None:
        """Make `connection` the calling thread's, used now."""
        self._local.connection = connection
        self._local.used = time.monotonic()
        with self._lock:
            self._open[id(connection)] = connection

    def used(self) -> None:
        """Note that the calling thread's connection was used now."""
        self._local.used = time.monotonic()

    def drop(self) -> None:
        """Close the calling thread's connection (idempotent)."""
        connection: C | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                self._open.pop(id(connection), None)
            with contextlib.suppress(Exception):  # closing a broken connection
                self._closer(connection)

    def close_all(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._lock:
            connections, self._open = list(self._open.values()), {}
        for connection in connections:
            with contextlib.suppress(Exception):
                self._closer(connection)


def _quit(smtp: smtplib.SMTP) -> None:
    if smtp.sock is not None:
        smtp.sock.settimeout(_QUIT_SECONDS)
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.quit()
    smtp.close()


class SmtpSink:
    """Sends notifications as e-mail through the `[smtp]` server."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._connections: _Connections[smtplib.SMTP] = _Connections(_quit)
        self._tls: ssl.SSLContext | None = None

    def deliver(self, delivery: Delivery, timeout: float) -> None:
        """Send one message to every target; raise if any is refused."""
        c = self.config
        if not delivery.targets:
            raise DeliveryError("the notification names no recipient")
        try:
            # Written directly when it can be (the usual case); else by the email package,
            # which smtplib then sends with SMTPUTF8 if an address needs it.
            plain = render.plain_email(delivery, c.sender)
            message = render.email_message(delivery, c.sender) if plain is None else plain
        except ValueError as exc:
            raise DeliveryError(f"cannot write the message: {exc}") from None
        targets = list(delivery.targets)
        smtp = self._connections.get()
        try:
            if smtp is None:
                refused = self._send(self._connect(timeout), message, targets, timeout)
            else:
                try:
                    refused = self._send(smtp, message, targets, timeout)
                except Exception as exc:
                    if not _stale(exc):
                        raise
                    self._connections.drop()  # the server closed the kept connection: again
                    refused = self._send(self._connect(timeout), message, targets, timeout)
        except BaseException as exc:
            if isinstance(exc, _CLEAN_SMTP) and not _stale(exc):
                self._connections.used()
            else:
                self._connections.drop()
            raise
        self._connections.used()
        if refused:
            names = ", ".join(printable(r, 80) for r in sorted(refused)[:5])
            raise DeliveryError(f"the SMTP server refused {len(refused)} recipient(s): {names}")

    def close_thread(self) -> None:
        """Close the calling thread's connection, if it has one."""
        self._connections.drop()

    def close(self) -> None:
        """Close every thread's connection."""
        self._connections.close_all()

    def _connect(self, timeout: float) -> smtplib.SMTP:
        """A new connection, greeted, secured and logged in as configured; the thread's."""
        c = self.config
        smtp = smtplib.SMTP(c.host, c.port, timeout=timeout)
        try:
            if c.starttls:
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                smtp.starttls(context=self._tls)
            if c.username is not None and c.password_env is not None:
                smtp.login(c.username, secret(c.password_env, "SMTP password"))
        except BaseException:
            smtp.close()
            raise
        self._connections.keep(smtp)
        return smtp

    def _send(self, smtp: smtplib.SMTP, message: bytes | EmailMessage, targets: list[str],
              timeout: float) -> dict[str, tuple[int, bytes]]:
        smtp.timeout = timeout
        if smtp.sock is not None:
            smtp.sock.settimeout(timeout)
        if isinstance(message, bytes):
            return smtp.sendmail(self.config.sender, targets, message)
        return smtp.send_message(message, self.config.sender, targets)


def _stale(error: BaseException) -> bool:
    """Whether `error` says the SMTP server had closed (or is closing) the connection."""
    if isinstance(error, smtplib.SMTPServerDisconnected | ConnectionError):
        return True
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == _CLOSING


class WebhookSink:
    """POSTs notifications as JSON to the `[webhook]` URL."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        parts = urlsplit(config.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._connections: _Connections[http.client.HTTPConnection] = _Connections(
            http.client.HTTPConnection.close)
        self._tls: ssl.SSLContext | None = None

    def deliver(self, delivery: Delivery, timeout: float) -> None:
        """One POST; 2xx is delivered, anything else (a redirect too) an error naming it."""
        body = render.webhook_body(delivery)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
            "User-Agent": "mu-decision-service",
        }
        if self.config.secret_env is not None:
            key = secret(self.config.secret_env, "webhook secret")
            headers[render.SIGNATURE_HEADER] = render.signature(key.encode(), body)
        connection = self._connections.get() or self._connect(timeout)
        try:
            try:
                reused = connection.sock is not None  # else http.client connects anew
                response = self._post(connection, body, headers, timeout)
            except _STALE_HTTP:
                if not reused:
                    raise
                self._connections.drop()  # the server closed the kept connection: once more
                connection = self._connect(timeout)
                response = self._post(connection, body, headers, timeout)
        except BaseException:
            self._connections.drop()
            raise
        self._connections.used()
        if not response.isclosed():  # an answer longer than we read: the connection is spent
            self._connections.drop()
        if not 200 <= response.status < 300:
            reason = printable(response.reason or "", 80)
            raise DeliveryError(f"the webhook answered HTTP {response.status} {reason}".rstrip())

    def close_thread(self) -> None:
        """Close the calling thread's connection, if it has one."""
        self._connections.drop()

    def close(self) -> None:
        """Close every thread's connection."""
        self._connections.close_all()

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection
        if self._https:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            connection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._tls
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        self._connections.keep(connection)
        return connection

    def _post(self, connection: http.client.HTTPConnection, body: bytes,
              headers: dict[str, str], timeout: float) -> http.client.HTTPResponse:
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        connection.request("POST", self._target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response
