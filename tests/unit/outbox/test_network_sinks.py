"""SmtpSink against a real SMTP server (aiosmtpd) and WebhookSink against a real HTTP server,
both on 127.0.0.1: what they send, and how they keep and renew their connections."""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from smtplib import SMTPRecipientsRefused
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from mu.generator.outbox import (
    DeliveryError,
    SmtpConfig,
    SmtpSink,
    WebhookConfig,
    WebhookSink,
    deliveries_for,
    network,
)
from mu.generator.outbox.plan import Delivery
from tests.unit.outbox.helpers import NOTIFY, Record, config

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notify(targets: tuple[str, ...] = ("compliance@example.com",)) -> Delivery:
    action = {**NOTIFY, "after": [], "targets": list(targets)}
    return deliveries_for(Record(actions=(action,)), config())[0]


@dataclass
class Mailbox:
    refuse: set[str] = field(default_factory=set)
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)  # the client end of each message's connection

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:
        if address in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.peers.append(session.peer)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        ok = data.login == b"mu" and data.password == b"pw"
        return AuthResult(success=ok)

    # Idle connections are closed by the server after 0.5 s (`test_smtp_reconnects...`).
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False, timeout=0.5)
    controller.start()
    yield box, port
    controller.stop()


def test_smtp_delivers_one_message_with_idempotency_headers(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    sink = SmtpSink(SmtpConfig(host="127.0.0.1", port=port, sender="mu@example.com"))
    sink.deliver(notify(("a@example.com", "b@example.com")), 5.0)
    ((sender, recipients, content),) = box.messages
    assert sender == "mu@example.com" and recipients == ["a@example.com", "b@example.com"]
    msg = email.message_from_bytes(content)
    assert msg["X-Mu-Idempotency-Key"] == "d-1:notify_compliance"
    assert msg["Message-ID"] and "REJECT" in msg["Subject"]


def test_smtp_login_reads_the_password_from_the_environment(
    smtp: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = smtp
    sink = SmtpSink(SmtpConfig(host="127.0.0.1", port=port, sender="mu@example.com",
                               username="mu", password_env="MU_TEST_SMTP_PW"))
    monkeypatch.delenv("MU_TEST_SMTP_PW", raising=False)
    with pytest.raises(DeliveryError, match="MU_TEST_SMTP_PW"):
        sink.deliver(notify(), 5.0)
    monkeypatch.setenv("MU_TEST_SMTP_PW", "pw")
    sink.deliver(notify(), 5.0)
    assert len(box.messages) == 1


def test_smtp_partial_refusal_is_an_error(smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    box.refuse.add("gone@example.com")
    sink = SmtpSink(SmtpConfig(host="127.0.0.1", port=port, sender="mu@example.com"))
    with pytest.raises(DeliveryError, match="refused 1 recipient"):
        sink.deliver(notify(("a@example.com", "gone@example.com")), 5.0)


def test_smtp_server_down_is_an_error() -> None:
    sink = SmtpSink(SmtpConfig(host="127.0.0.1", port=free_port(), sender="mu@example.com"))
    with pytest.raises(OSError):
        sink.deliver(notify(), 2.0)


@dataclass
class Hook:
    status: int = 200
    delay: float = 0.0
    keep_alive: bool = False  # HTTP/1.1 (else 1.0: a connection per request)
    idle: float | None = None  # seconds the server keeps an idle connection
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[tuple[Hook, int]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def setup(self) -> None:
            self.protocol_version = "HTTP/1.1" if state.keep_alive else "HTTP/1.0"
            super().setup()
            self.connection.settimeout(state.idle)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers.items()), body))
            state.peers.append(self.client_address)
            time.sleep(state.delay)
            self.send_response(state.status)
            if 300 <= state.status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_webhook_posts_signed_json(
    hook: tuple[Hook, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, port = hook
    monkeypatch.setenv("MU_TEST_HOOK_SECRET", "k3y")
    # A proxy in the environment must not be used: http.client ignores it.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:1")
    sink = WebhookSink(WebhookConfig(url=f"http://127.0.0.1:{port}/hooks/mu?src=1",
                                     secret_env="MU_TEST_HOOK_SECRET"))
    sink.deliver(notify(), 5.0)
    ((path, headers, body),) = state.requests
    assert path == "/hooks/mu?src=1"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == "d-1:notify_compliance"
    expected = "sha256=" + hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert headers["X-Mu-Signature"] == expected
    assert json.loads(body)["control_id"] == "notify_compliance"


@pytest.mark.parametrize("status", [500, 404, 302])
def test_webhook_non_2xx_is_an_error_and_redirects_are_not_followed(
    hook: tuple[Hook, int], status: int
) -> None:
    state, port = hook
    state.status = status
    sink = WebhookSink(WebhookConfig(url=f"http://127.0.0.1:{port}/"))
    with pytest.raises(DeliveryError, match=f"HTTP {status}"):
        sink.deliver(notify(), 5.0)
    assert [p for p, _, _ in state.requests] == ["/"]


def test_webhook_times_out(hook: tuple[Hook, int]) -> None:
    state, port = hook
    state.delay = 2.0
    sink = WebhookSink(WebhookConfig(url=f"http://127.0.0.1:{port}/"))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        sink.deliver(notify(), 0.3)
    assert time.monotonic() - started < 1.5


def test_smtp_keeps_its_connection_and_reconnects_when_the_server_closed_it(
    smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    sink = SmtpSink(SmtpConfig(host="127.0.0.1", port=port, sender="mu@example.com"))
    for n in range(3):
        sink.deliver(notify((f"a{n}@example.com",)), 5.0)
    assert len(box.messages) == 3 and len(set(box.peers)) == 1  # one connection
    box.refuse.add("gone@example.com")
    with pytest.raises(SMTPRecipientsRefused):
        sink.deliver(notify(("gone@example.com",)), 5.0)
    sink.deliver(notify(("b@example.com",)), 5.0)  # still the same connection
    assert len(set(box.peers)) == 1
    time.sleep(0.8)  # the server closes the idle connection (421)
    sink.deliver(notify(("c@example.com",)), 5.0)  # not an error: sent on a new one
    assert len(box.messages) == 5 and len(set(box.peers)) == 2
    # Another thread has a connection of its own; close() closes them all.
    thread = threading.Thread(target=sink.deliver, args=(notify(("d@example.com",)), 5.0))
    thread.start()
    thread.join()
    assert len(set(box.peers)) == 3
    sink.close()
    sink.deliver(notify(("e@example.com",)), 5.0)
    assert len(box.messages) == 7 and len(set(box.peers)) == 4


def test_smtp_connection_idle_too_long_is_replaced(
    smtp: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = smtp
    sink = SmtpSink(SmtpConfig(host="127.0.0.1", port=port, sender="mu@example.com"))
    sink.deliver(notify(), 5.0)
    monkeypatch.setattr(network, "IDLE_SECONDS", 0.0)
    sink.deliver(notify(), 5.0)
    sink.close_thread()
    assert len(set(box.peers)) == 2


def test_webhook_keeps_its_connection_alive_and_reconnects(hook: tuple[Hook, int]) -> None:
    state, port = hook
    state.keep_alive, state.idle = True, 0.3
    sink = WebhookSink(WebhookConfig(url=f"http://127.0.0.1:{port}/"))
    for _ in range(3):
        sink.deliver(notify(), 5.0)
    assert len(set(state.peers)) == 1
    state.status = 503
    with pytest.raises(DeliveryError, match="HTTP 503"):
        sink.deliver(notify(), 5.0)
    state.status = 200
    sink.deliver(notify(), 5.0)
    assert len(set(state.peers)) == 1  # an error answer does not cost the connection
    time.sleep(0.6)  # the server drops the idle connection
    sink.deliver(notify(), 5.0)
    assert len(state.requests) == 6 and len(set(state.peers)) == 2
    sink.close()


def test_webhook_without_keep_alive_connects_each_time(hook: tuple[Hook, int]) -> None:
    state, port = hook
    sink = WebhookSink(WebhookConfig(url=f"http://127.0.0.1:{port}/"))
    for _ in range(3):
        sink.deliver(notify(), 5.0)
    assert len(state.requests) == 3 and len(set(state.peers)) == 3
