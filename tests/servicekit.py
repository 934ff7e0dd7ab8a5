"""A kit for end-to-end tests of the decision service (`mu serve`, SPEC §10).

- `served`: a built repository made ready to serve: a `runtime`-role key in its trust
  root, its receipt deployed to `base/deploy/current`, a ledger file per ledger named
  in its ontology; `write_config` writes the service's TOML for it.
- `MuServer`: `mu serve` in a child process, as an operator runs it, started and
  stopped (SIGTERM), killed (SIGKILL) and restarted on the same port.
- `post_json` / `get`: a small keep-alive HTTP client (http.client: no proxies).
- `SmtpCatcher` (aiosmtpd) and `WebhookCatcher`: local receivers that record what
  the delivery workers send; both can be stopped and restarted on the same port, or
  told to fail, so tests can watch delivery degrade and recover.
- `sample_transactions`: cases of the shipped golden suite covering every outcome
  and action kind; `logged_decisions`: the decision log's records, read raw.

Nothing here imports pytest or click at run time, so `benchmarks/serve.py` uses the
same kit.
"""

from __future__ import annotations

import contextlib
import copy
import email
import email.message
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import tomli_w

if TYPE_CHECKING:
    from aiosmtpd.controller import Controller

    from tests.chain import Built
    from tests.conftest import Run

REPO = Path(__file__).resolve().parent.parent
RUNTIME_IDENTITY = "payments-runtime"
# Delivery settings that let a test watch retries within seconds: quick back-off, and
# enough attempts to outlast an outage of ten seconds or so before anything is dead.
TEST_DELIVERY: Mapping[str, Any] = {
    "workers": 2,
    "timeout_seconds": 2.0,
    "max_attempts": 30,
    "backoff_seconds": 0.05,
    "backoff_max_seconds": 1.0,
}
SENDER = "mu-serve@acme.example"
# Where each channel carries an action's idempotency key (`<decision_id>:<control_id>`).
MAIL_KEY_HEADER = "X-Mu-Idempotency-Key"
WEBHOOK_KEY_HEADER = "Idempotency-Key"


# --------------------------------------------------------------------------
# A repository ready to serve, and its configuration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A built repository whose newest receipt is deployed and whose trust root holds a
    `runtime` key (identity `payments-runtime`).

    `log_dir` is the default decision log `TARGET.decisions/` (SPEC §10): `mu serve`
    uses it unless given `--log`. `ledgers` maps each ledger the ontology names to a
    file under `base/ledgers/` (not created: the service appends to it).
    """

    base: Path
    root: Path
    target: Path
    receipt: Path
    release: str
    runtime_key: Path
    ledgers: Mapping[str, Path]

    @property
    def log_dir(self) -> Path:
        """`TARGET.decisions/`, where the decision log goes without `--log`."""
        return self.target.parent / f"{self.target.name}.decisions"

    @property
    def runtime_pub(self) -> Path:
        """The public half of the runtime key."""
        return self.runtime_key.with_name(self.runtime_key.name + ".pub")


def ledger_names(root: Path) -> list[str]:
    """Every ledger named by `mu:ledger "..."` in the repository's ontology, sorted."""
    names: set[str] = set()
    for ttl in sorted((root / "ontology").rglob("*.ttl")):
        names.update(re.findall(r'mu:ledger\s+"([^"]+)"', ttl.read_text(encoding="utf-8")))
    return sorted(names)


def served(base: Path, built: Built, mu: Callable[..., Run]) -> Served:
    """Add a runtime key to `built`'s trust root (signed by its root key), deploy its
    newest receipt to `base/deploy/current` and name a ledger file for each ledger."""
    from mu.generator.provenance.receipt import read_receipt

    def ok(*args: str) -> None:
        run = mu(*args, root=built.root)
        assert run.code == 0, f"mu {' '.join(args)}:\n{run.out}{run.err}"

    runtime_key = built.root_key.parent / "runtime.pem"
    ok("keygen", "--out", str(runtime_key))
    ok("trust", "add", f"{runtime_key}.pub", "--role", "runtime", "--identity", RUNTIME_IDENTITY)
    ok("trust", "sign", "--key", str(built.root_key))
    target = base / "deploy" / "current"
    target.parent.mkdir(parents=True, exist_ok=True)
    ok("deploy", "--receipt", str(built.receipt), "--target", str(target))
    (base / "ledgers").mkdir(exist_ok=True)
    ledgers = {name: base / "ledgers" / f"{name}.jsonl" for name in ledger_names(built.root)}
    release = read_receipt(built.receipt).digest
    return Served(base, built.root, target, built.receipt, release, runtime_key, ledgers)


def actions_status(s: Served, mu: Callable[..., Run]) -> dict[str, Any]:
    """`mu actions status --format json` of the served target's outbox, parsed."""
    run = mu("actions", "status", "--target", str(s.target), "--format", "json", root=s.root)
    assert run.code == 0, run.out + run.err
    status: dict[str, Any] = json.loads(run.out)
    return status


def settled(s: Served, mu: Callable[..., Run]) -> bool:
    """Whether the outbox holds nothing pending or in flight (delivered or dead only)."""
    totals = actions_status(s, mu)["totals"]
    return bool(totals["pending"] == 0 and totals["inflight"] == 0 and totals["held"] == 0)


def write_config(
    path: Path,
    *,
    runtime_key: Path,
    ledgers: Mapping[str, Path],
    smtp_port: int | None = None,
    webhook_url: str | None = None,
    checkpoint_every: int = 100,
    delivery: Mapping[str, Any] | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write the service TOML (`mu serve --config`) to `path`; `path`.

    `delivery` overrides single keys of `TEST_DELIVERY`; `extra` adds or extends
    tables (`{"log": {"checkpoint_seconds": 1}}`). Paths are written absolute, so
    the file means the same wherever it is read from.
    """
    config: dict[str, dict[str, Any]] = {
        "server": {"runtime_key": str(runtime_key.resolve())},
        "log": {"checkpoint_every": checkpoint_every},
        "delivery": {**TEST_DELIVERY, **(delivery or {})},
    }
    if smtp_port is not None:
        config["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "sender": SENDER}
    if webhook_url is not None:
        config["webhook"] = {"url": webhook_url}
    config["ledgers"] = {name: {"path": str(p.resolve())} for name, p in sorted(ledgers.items())}
    for table, values in (extra or {}).items():
        config[table] = {**config.get(table, {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    """Poll `predicate` until it holds; AssertionError with `what()` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s: {what()}")
        time.sleep(0.02)


# --------------------------------------------------------------------------
# A keep-alive HTTP client
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One HTTP answer: status, parsed JSON body (None if it is not JSON), wall time."""

    status: int
    json: Any
    seconds: float
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body as UTF-8 text (the Prometheus exposition of `/metrics`)."""
        return self.body.decode("utf-8", "replace")


_connections = threading.local()  # `pool`: (host, port, timeout) -> HTTPConnection, per thread


def _pool() -> dict[tuple[str, int, float], http.client.HTTPConnection]:
    if not hasattr(_connections, "pool"):
        _connections.pool = {}
    pool: dict[tuple[str, int, float], http.client.HTTPConnection] = _connections.pool
    return pool


def _request(
    method: str, url: str, body: bytes | None, timeout: float, extra: Mapping[str, str]
) -> Response:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise ValueError(f"expected http://HOST:PORT/PATH, not {url!r}")
    key = (parts.hostname, parts.port, timeout)
    pool = _pool()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {**({"Content-Type": "application/json"} if body is not None else {}), **extra}
    conn = pool.get(key)
    if conn is not None and _dropped(conn):
        conn.close()
        conn = None
    if conn is None:
        conn = pool[key] = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
    except BaseException:
        conn.close()
        del pool[key]
        raise
    seconds = time.perf_counter() - start
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return Response(answer.status, parsed, seconds, data, dict(answer.getheaders()))


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """Whether the server closed this idle keep-alive connection (a restart, a crash, its
    idle timeout). Checked before sending rather than retried after a failure, so a
    request is sent at most once: a retried decision would be a second decision."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        # An idle connection has nothing to read: readable means closed (b"") or garbage.
        return bool(readable)
    except (OSError, ValueError):
        return True


def post_json(
    url: str, obj: Any, *, timeout: float = 30.0, headers: Mapping[str, str] | None = None
) -> Response:
    """POST `obj` as JSON (bytes or str are sent as they are) on this thread's
    keep-alive connection to the host."""
    if isinstance(obj, bytes):
        body = obj
    elif isinstance(obj, str):
        body = obj.encode("utf-8")
    else:
        body = json.dumps(obj).encode("utf-8")
    return _request("POST", url, body, timeout, headers or {})


def get(url: str, *, timeout: float = 30.0) -> Response:
    """GET `url` on this thread's keep-alive connection to the host."""
    return _request("GET", url, None, timeout, {})


def close_connections() -> None:
    """Close this thread's keep-alive connections."""
    pool = _pool()
    for conn in pool.values():
        conn.close()
    pool.clear()


# --------------------------------------------------------------------------
# mu serve in a child process
# --------------------------------------------------------------------------


class ServerError(AssertionError):
    """`mu serve` did not start, or did not stop, as asked (the message holds its stderr)."""


class MuServer:
    """`python -m mu.cli --root ROOT serve --target TARGET ...` in a child process (cwd ROOT).

    A context manager: entering starts it and waits until `GET /v1/health` answers
    200; leaving stops it (SIGTERM) if it still runs. Its stdout and stderr go to
    `workdir/serve-<n>.stdout|stderr`, n counting the starts. The port is chosen once,
    so `restart` keeps the URL.
    """

    def __init__(
        self,
        root: Path,
        target: Path,
        *,
        workdir: Path,
        config: Path | None = None,
        log: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        startup_seconds: float = 60.0,
    ) -> None:
        self.root, self.target, self.workdir = root, target, workdir
        self.config, self.log, self.host = config, log, host
        self.port = port if port is not None else free_port()
        self.env = dict(env or {})
        self.startup_seconds = startup_seconds
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def of(cls, served: Served, config: Path | None = None, **options: Any) -> MuServer:
        """A server for `served` (its root, target, and `base` as the workdir)."""
        return cls(served.root, served.target, workdir=served.base, config=config, **options)

    @property
    def url(self) -> str:
        """`http://HOST:PORT`."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self.process is not None and self.process.poll() is None

    def argv(self) -> list[str]:
        """The command line of the child."""
        argv = [sys.executable, "-m", "mu.cli", "--root", str(self.root), "serve"]
        argv += ["--target", str(self.target), "--host", self.host, "--port", str(self.port)]
        if self.config is not None:
            argv += ["--config", str(self.config)]
        if self.log is not None:
            argv += ["--log", str(self.log)]
        return argv

    def stderr_path(self) -> Path:
        """The stderr file of the latest start."""
        return self.workdir / f"serve-{self.starts}.stderr"

    def stderr(self) -> str:
        """What the latest start wrote to stderr so far."""
        path = self.stderr_path()
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def _failure(self, why: str) -> ServerError:
        tail = "\n".join(self.stderr().splitlines()[-60:])
        return ServerError(f"mu serve {why}\n$ {' '.join(self.argv())}\n--- stderr ---\n{tail}")

    def start(self, *, healthy: bool = True) -> None:
        """Start the child; wait until `/v1/health` answers 200 (any answer if not `healthy`)."""
        if self.running:
            raise ServerError(f"mu serve already runs (pid {self.pid})")
        self.starts += 1
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (
            (self.workdir / f"serve-{self.starts}.stdout").open("wb") as out,
            self.stderr_path().open("wb") as err,
        ):
            self.process = subprocess.Popen(
                self.argv(),
                cwd=self.root,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # a kill() reaches any child of its own too
            )
        deadline = time.monotonic() + self.startup_seconds
        while True:
            if self.process.poll() is not None:
                raise self._failure(f"exited with {self.process.returncode} while starting")
            try:
                status = get(f"{self.url}/v1/health", timeout=2.0).status
            except OSError:
                status = None
            if status == 200 or (status is not None and not healthy):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise self._failure(
                    f"not healthy after {self.startup_seconds:.0f} s (last health: {status})"
                )
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self.process is None:
            raise ServerError("mu serve was never started")
        return self.process.pid

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (a graceful stop: drain, final signed checkpoint); its exit code."""
        if self.process is None:
            raise ServerError("mu serve was never started")
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise self._failure(f"did not stop within {timeout:.0f} s of SIGTERM") from None
        close_connections()
        return self.process.returncode

    def kill(self) -> int:
        """SIGKILL to the child's process group (a crash); its exit code."""
        if self.process is None:
            raise ServerError("mu serve was never started")
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        close_connections()
        return self.process.returncode

    def restart(self, *, healthy: bool = True) -> None:
        """Stop (SIGTERM) if running, then start again on the same port."""
        if self.running:
            self.stop()
        self.start(healthy=healthy)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self.running:
            return
        try:
            self.stop()
        except ServerError:
            if kind is None:  # never hide the exception that ended the block
                raise


# --------------------------------------------------------------------------
# Local receivers: SMTP and webhooks
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One message the SMTP catcher accepted."""

    sender: str
    recipients: tuple[str, ...]
    message: email.message.Message


class SmtpCatcher:
    """An aiosmtpd server on 127.0.0.1 recording every message it accepts.

    `stop()` then `start()` brings it back on the same port (an outage); while
    `failing` is set it answers DATA with 451 (a transient refusal) and keeps nothing.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.failing = False
        self._mails: list[Mail] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook for one message."""
        if self.failing:
            return "451 4.3.0 the catcher fails on purpose"
        message = email.message_from_bytes(envelope.content)
        mail = Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message)
        with self._changed:
            self._mails.append(mail)
            self._changed.notify_all()
        return "250 OK"

    def start(self) -> Self:
        """Listen on 127.0.0.1:`port`."""
        from aiosmtpd.controller import Controller

        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (messages received so far are kept)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def mails(self) -> list[Mail]:
        """Every accepted message so far, in order of arrival."""
        with self._changed:
            return list(self._mails)

    @property
    def messages(self) -> list[email.message.Message]:
        """The accepted messages themselves."""
        return [mail.message for mail in self.mails]

    def keys(self) -> Counter[str]:
        """How many messages carried each idempotency key (`X-Mu-Idempotency-Key`)."""
        return Counter(str(m.message[MAIL_KEY_HEADER]) for m in self.mails)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Mail]:
        """Block until at least `count` messages arrived; all of them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._mails) >= count, timeout):
                raise AssertionError(f"{len(self._mails)} of {count} mails after {timeout} s")
            return list(self._mails)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Hook:
    """One POST the webhook catcher received."""

    path: str
    headers: Mapping[str, str]
    body: bytes
    json: Any

    def header(self, name: str) -> str | None:
        """A header's value, whatever the case of its name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class WebhookCatcher:
    """An HTTP server on 127.0.0.1 recording every POST and answering `status` (200,
    or e.g. 500 to make deliveries fail). `url` is `http://127.0.0.1:PORT/hook`.
    A failed POST (status >= 300) is not recorded, as a real receiver would drop it."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.status = 200
        self._hooks: list[Hook] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()  # connections being served
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where to point `[webhook] url`."""
        return f"http://127.0.0.1:{self.port}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the delivery workers may use

            def setup(self) -> None:
                super().setup()
                with catcher._changed:
                    catcher._open.add(self.connection)

            def finish(self) -> None:
                with catcher._changed:
                    catcher._open.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = catcher.status
                if status < 300:
                    try:
                        parsed = json.loads(body)
                    except ValueError:
                        parsed = None
                    hook = Hook(self.path, dict(self.headers.items()), body, parsed)
                    with catcher._changed:
                        catcher._hooks.append(hook)
                        catcher._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test's output is not the place for an access log."""

        return Handler

    def start(self) -> Self:
        """Listen on 127.0.0.1:`port` in a background thread."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), daemon=True
            )  # a short poll interval: stop() waits for the loop to notice
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (requests received so far are kept)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            # Keep-alive connections too: an outage answers nobody, not just newcomers.
            with self._changed:
                for conn in self._open:
                    with contextlib.suppress(OSError):
                        conn.shutdown(socket.SHUT_RDWR)

    @property
    def hooks(self) -> list[Hook]:
        """Every recorded POST so far, in order of arrival."""
        with self._changed:
            return list(self._hooks)

    def keys(self) -> Counter[str]:
        """How many recorded POSTs carried each idempotency key (`Idempotency-Key`)."""
        return Counter(str(h.header(WEBHOOK_KEY_HEADER)) for h in self.hooks)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Hook]:
        """Block until at least `count` POSTs were recorded; all of them."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._hooks) >= count, timeout):
                raise AssertionError(f"{len(self._hooks)} of {count} webhooks after {timeout} s")
            return list(self._hooks)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------
# Transactions and the decision log
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A valid transaction of the shipped example with what the golden suite expects:
    the outcome, the controls among the reasons, the actions as `kind:control_id`."""

    name: str
    transaction: dict[str, Any]
    outcome: str
    controls: tuple[str, ...]
    actions: tuple[str, ...]


# Golden cases (golden/notifications_audit.toml) covering each outcome and action kind.
SAMPLE_CASES = (
    "actions_vendor_approve_audit_only",  # APPROVE: ledger only
    "actions_wire_1m_plus_cent_large_wire_alert",  # APPROVE: ledger and a notification
    "actions_vendor_reject_ledger_then_alert",  # REJECT: ledger, ledger, then the alert
    "actions_wire_reject_ledger_then_alert",  # REJECT: the same for a wire
    "actions_vendor_review_treasury_notified",  # REVIEW: ledger, notify two recipients
    "actions_expense_review_no_treasury",  # REVIEW: ledger only
)


def sample_transactions() -> list[Sample]:
    """The `SAMPLE_CASES`, read from the shipped golden suite (fresh copies each call)."""
    with (REPO / "golden" / "notifications_audit.toml").open("rb") as handle:
        cases = {case["id"]: case for case in tomllib.load(handle)["case"]}
    return [
        Sample(
            name,
            copy.deepcopy(cases[name]["transaction"]),
            cases[name]["expect"]["outcome"],
            tuple(cases[name]["expect"].get("controls", ())),
            tuple(cases[name]["expect"].get("actions", ())),
        )
        for name in SAMPLE_CASES
    ]


def numbered(transaction: Mapping[str, Any], n: int) -> dict[str, Any]:
    """A copy of `transaction` whose id ends in `-n`, for many distinct transactions."""
    return {**copy.deepcopy(dict(transaction)), "id": f"{transaction['id']}-{n}"}


def logged_decisions(log_dir: Path) -> list[dict[str, Any]]:
    """The decision records of a log (`segments/*.jsonl`, lines of kind `decision`), read
    as raw JSON without mu's own reader, in segment then line order. Only the very last
    line may be torn (a crash mid-write: it was never answered); it is left out."""
    lines = [
        line
        for segment in sorted((log_dir / "segments").glob("*.jsonl"))
        for line in segment.read_bytes().splitlines()
    ]
    records = []
    for n, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:
            if n == len(lines) - 1:
                break
            raise AssertionError(f"line {n + 1} of the log {log_dir} is not JSON") from None
        if isinstance(record, dict) and record.get("kind") == "decision":
            records.append(record)
    return records


def decided_ids(responses: Sequence[Response]) -> set[str]:
    """The decision ids of the 200 answers among `responses`."""
    return {r.json["decision_id"] for r in responses if r.status == 200}


def action_keys(responses: Sequence[Response], kind: str | None = None) -> set[str]:
    """The idempotency keys (`<decision_id>:<control_id>`, SPEC §10) of the actions the 200
    answers among `responses` name, of one `kind` (`notify`, `ledger`) or of all."""
    return {
        f"{r.json['decision_id']}:{action['control_id']}"
        for r in responses
        if r.status == 200
        for action in r.json["actions"]
        if kind is None or action["kind"] == kind
    }


def ledger_keys(path: Path) -> Counter[str]:
    """How many lines of a ledger file carry each `idempotency_key` (none if no file)."""
    if not path.exists():
        return Counter()
    lines = path.read_bytes().splitlines()
    return Counter(str(json.loads(line)["idempotency_key"]) for line in lines if line.strip())
