"""Outbox delivery throughput: how fast the `Supervisor` drains a backlog, per channel.

    python benchmarks/outbox.py [--decisions 20000] [--batch 1,64] [--workers 4]
                                [--channels ledger,smtp,webhook] [--max-seconds 120] [--repeat 1]

For each batch size (deliveries a worker claims and records per transaction)
it fills a fresh outbox in a temporary directory with the deliveries of
`--decisions` synthetic decisions, each with a ledger action and a
notification that depends on it (SPEC §3: the alert goes out once the ledger
line is written), so a decision makes one ledger delivery and one delivery per
notification channel. Then it starts a `Supervisor` with the service's default
delivery settings (docs/serve.example.toml) and times it until every delivery
is delivered, or `--max-seconds` have passed (the rate is then of what got
through).

The receivers run on 127.0.0.1 in processes of their own, so they do not take
the supervisor's GIL: an aiosmtpd `Controller` (SMTP) and a
`ThreadingHTTPServer` speaking HTTP/1.1 with keep-alive (webhook). Ledger files
are in the temporary directory. After each run the receivers' counts of
distinct idempotency keys, and the ledger's lines, are checked against the
decisions (repeats are reported: receivers drop them by key, but they cost).

Per-channel figures are that channel's deliveries over the time from start to
its last delivery. CPU is this process's (supervisor and enqueue). Not part of
the test suite: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mu.generator.outbox import (  # noqa: E402
    Attempt,
    DeliveryConfig,
    LedgerConfig,
    Outbox,
    SmtpConfig,
    Supervisor,
    WebhookConfig,
    deliveries_for,
)

# docs/serve.example.toml's delivery settings (the service's defaults).
DELIVERY = {
    "timeout_seconds": 5.0,
    "max_attempts": 8,
    "backoff_seconds": 0.5,
    "backoff_max_seconds": 300.0,
}
LEDGER = {"kind": "ledger", "control_id": "audit_reject", "targets": ["audit"], "after": []}
NOTIFY = {
    "kind": "notify",
    "control_id": "notify_compliance",
    "targets": ["compliance@example.com"],
    "after": ["audit_reject"],
}
ENQUEUE_CHUNK = 256  # decisions per enqueue, about one group commit of the decision log
_SMTP_KEY = re.compile(rb"X-Mu-Idempotency-Key: ([^\r\n]+)")


class Record:
    """A committed decision as the outbox reads one (`generator.outbox.DecisionRecord`)."""

    def __init__(self, seq: int) -> None:
        self.seq = seq
        self.decision_id = f"d-{seq}"
        self.time = "2025-01-02T03:04:05.000Z"
        self.release = "ab" * 32
        self.transaction = {"id": f"tx-{seq}", "type": "payment"}
        self.outcome = "REJECT"
        self.actions = (LEDGER, NOTIFY)


# ---------------------------------------------------------------------- receivers


def _smtp_receiver(conn: Connection) -> None:
    """An aiosmtpd server counting messages and distinct idempotency keys."""
    from aiosmtpd.controller import Controller

    keys: set[bytes] = set()
    total = [0]

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            total[0] += 1
            match = _SMTP_KEY.search(envelope.original_content or envelope.content)
            if match:
                keys.add(match.group(1))
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd's Controller needs a port number up front
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    conn.send(port)
    _serve_commands(conn, lambda: (total[0], len(keys)), keys.clear, total)
    controller.stop()


def _http_receiver(conn: Connection) -> None:
    """An HTTP/1.1 keep-alive server answering 200 and counting distinct idempotency keys."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    keys: set[str] = set()
    total = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                total[0] += 1
                keys.add(self.headers.get("Idempotency-Key", ""))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.server_address[1])
    _serve_commands(conn, lambda: (total[0], len(keys)), keys.clear, total)
    server.shutdown()


def _serve_commands(conn: Connection, counts: Any, clear: Any, total: list[int]) -> None:
    """Answer `count` with (messages, distinct keys, CPU seconds since the last reset),
    `reset` by forgetting; stop on `stop`."""
    cpu = time.process_time()
    while (command := conn.recv()) != "stop":
        if command == "count":
            conn.send((*counts(), time.process_time() - cpu))
        elif command == "reset":
            clear()
            total[0] = 0
            cpu = time.process_time()
            conn.send(None)


class Receiver:
    """A receiver process and the pipe it listens on."""

    def __init__(self, target: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child,), daemon=True)
        self.process.start()
        self.port: int = self.conn.recv()

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(5)


# ---------------------------------------------------------------------- one run


class Tally:
    """Attempts as they end (the supervisor's `on_attempt`), by channel."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.lock = threading.Lock()
        self.delivered: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.last: dict[str, float] = {}
        self.done = threading.Event()

    def __call__(self, attempt: Attempt) -> None:
        with self.lock:
            if attempt.state == "delivered":
                self.delivered[attempt.channel] += 1
                self.last[attempt.channel] = time.perf_counter()
            else:
                self.failed[attempt.channel] += 1
            if sum(self.delivered.values()) >= self.expected:
                self.done.set()


def run(args: argparse.Namespace, batch: int, receivers: dict[str, Receiver]) -> dict[str, Any]:
    """Fill a fresh outbox, drain it with `batch`, and return the figures."""
    for receiver in receivers.values():
        receiver.ask("reset")
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Path(tmp) / "audit.jsonl"
        config = DeliveryConfig(
            workers=args.workers,
            smtp=SmtpConfig(host="127.0.0.1", port=receivers["smtp"].port,
                            sender="mu@example.com") if "smtp" in receivers else None,
            webhook=WebhookConfig(url=f"http://127.0.0.1:{receivers['webhook'].port}/hook")
            if "webhook" in receivers else None,
            ledgers={"audit": LedgerConfig("audit", ledger)},
            **DELIVERY,  # type: ignore[arg-type]
        )
        path = Path(tmp) / "outbox.sqlite3"
        box = Outbox.open(path)
        cpu, started = time.process_time(), time.perf_counter()
        expected = 0
        for first in range(1, args.decisions + 1, ENQUEUE_CHUNK):
            last = min(args.decisions, first + ENQUEUE_CHUNK - 1)
            deliveries = [d for seq in range(first, last + 1)
                          for d in deliveries_for(Record(seq), config)]
            box.enqueue(deliveries, last)
            expected += len(deliveries)
        enqueue_seconds = time.perf_counter() - started
        tally = Tally(expected)
        supervisor = Supervisor(path, config, on_attempt=tally, batch_size=batch)
        cpu, started = time.process_time(), time.perf_counter()
        supervisor.start()
        finished = tally.done.wait(args.max_seconds)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        supervisor.stop(10.0)
        counts = box.counts()
        box.close()
        lines = len(ledger.read_bytes().splitlines()) if ledger.exists() else 0
        received = {name: r.ask("count") for name, r in receivers.items()}
    with tally.lock:
        delivered = dict(tally.delivered)
        rates = {ch: n / (tally.last[ch] - started) for ch, n in delivered.items()}
        failed = dict(tally.failed)
    return {
        "batch": batch, "expected": expected, "delivered": sum(delivered.values()),
        "finished": finished, "seconds": seconds, "cpu": cpu, "rates": rates,
        "failed": failed, "counts": counts, "ledger_lines": lines, "received": received,
        "enqueue_rate": expected / enqueue_seconds,
    }


def main() -> None:
    """Print the drain rate per batch size, overall and per channel."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=20000)
    parser.add_argument("--batch", default="1,64", help="Batch sizes, comma-separated.")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--channels", default="ledger,smtp,webhook",
                        help="ledger, and the notification channels to configure.")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="Stop a run after this long and report what got through.")
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="Runs per batch size, interleaved; the fastest counts (on a shared machine the "
        "others' load only ever adds time).",
    )
    args = parser.parse_args()
    batches = [int(b) for b in args.batch.split(",")]
    channels = [c for c in args.channels.split(",") if c in ("smtp", "webhook")]
    targets = {"smtp": _smtp_receiver, "webhook": _http_receiver}
    receivers = {name: Receiver(targets[name]) for name in channels}
    load_before = os.getloadavg()[0]  # the figures only mean something on an idle machine
    results: dict[int, list[dict[str, Any]]] = {b: [] for b in batches}
    try:
        for _ in range(args.repeat):
            for batch in batches:
                results[batch].append(run(args, batch, receivers))
    finally:
        for receiver in receivers.values():
            receiver.stop()
    print(
        f"{args.decisions:,} decisions (ledger + {', '.join(channels) or 'no notification'}), "
        f"{args.workers} workers; {os.cpu_count()} CPUs, load average before and after "
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}"
    )
    names = ["ledger", *channels]
    print("| batch | deliveries | seconds | deliveries/s | "
          + " | ".join(f"{n}/s" for n in names) + " | CPU s | enqueue/s |")
    print("|---" * (6 + len(names)) + "|")
    for batch in batches:
        best = max(results[batch], key=lambda r: r["delivered"] / r["seconds"])
        done = f"{best['delivered']:,}" + ("" if best["finished"] else f" of {best['expected']:,}")
        per = " | ".join(f"{best['rates'].get(n, 0.0):,.0f}" for n in names)
        print(f"| {batch} | {done} | {best['seconds']:.2f} | "
              f"{best['delivered'] / best['seconds']:,.0f} | {per} | {best['cpu']:.2f} | "
              f"{best['enqueue_rate']:,.0f} |")
    print()
    for batch in batches:
        for r in results[batch]:
            received = ", ".join(
                f"{name} {total:,} messages for {distinct:,} keys ({cpu:.1f} CPU s)"
                for name, (total, distinct, cpu) in r["received"].items())
            print(f"batch {batch}: ledger {r['ledger_lines']:,} lines; {received}; failed "
                  f"attempts {r['failed'] or 'none'}; outbox {r['counts']}")


if __name__ == "__main__":
    main()
