"""`mu serve` under load on loopback: decisions/s and latency at 1, 8 and 32 clients, then
proof that every answered decision is in the decision log.

    python benchmarks/serve.py [--sets example,synthetic1000] [--seconds 10] [--levels 1,8,32]
                               [--notify smtp|webhook|none]

For each set it builds a scratch policy repository in a temporary directory with
the mu CLI alone, as an operator would: the shipped example (a copy of
`ontology/` and `golden/`) or `synthetic.write_repository(root, 1000)`; root,
release, compliance and runtime keys outside it (`mu keygen`); `mu trust
init/add/sign`; `mu approve`; `mu build --sign-key`; `mu deploy`. It then starts
`mu serve` (tests/servicekit.py's `MuServer`) with every ledger the ontology
names configured and notifications sent to a local catcher in a process of its
own (`--notify`: an aiosmtpd SMTP server by default, or a webhook receiver, or
no channel at all), with the delivery settings of docs/serve.example.toml.

The load comes from a raw asyncio HTTP/1.1 client (on uvloop when installed):
one keep-alive connection per virtual client, each sending the next of a few
thousand precomputed requests as soon as the answer to its last one is in,
for `--seconds` per level. The example's transactions are the kit's six samples (two each of
APPROVE, REJECT and REVIEW, with their ledger and notify actions) under
distinct ids; the synthetic set's are `synthetic.transaction(i)`. Before the
levels the client's own ceiling is measured against a trivial server (a bare
asyncio protocol answering a fixed 200) on the same machine, so a figure near
it would mean the client, not mu, was the limit.

After the levels the server is stopped with SIGTERM; every decision id
answered 200 must be among the `decision` lines of the log's
`segments/*.jsonl`, and `mu decisions verify LOG` must exit 0. Not part of the
test suite: timings on shared machines are noisy, so nothing here asserts a
time; the issue's target (>= 1,500 decisions/s at 32 clients with p99 under
25 ms for the shipped example) is reported, not enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from synthetic import transaction as synthetic_transaction  # noqa: E402
from synthetic import write_repository  # noqa: E402

from tests.servicekit import (  # noqa: E402
    MuServer,
    free_port,
    ledger_names,
    logged_decisions,
    numbered,
    post_json,
    sample_transactions,
    write_config,
)

SETS = ("example", "synthetic1000")
POOL = 4096  # distinct precomputed requests per set
# docs/serve.example.toml's delivery settings (the service's defaults), not the tests'.
DELIVERY = {
    "workers": 4,
    "timeout_seconds": 5.0,
    "max_attempts": 8,
    "backoff_seconds": 0.5,
    "backoff_max_seconds": 300.0,
}
DECISION_ID = re.compile(rb'"decision_id"\s*:\s*"([^"]+)"')
TARGET_RATE, TARGET_P99_MS = 1500.0, 25.0

# A bare asyncio server answering every request with one fixed 200: what the client
# achieves against it is its own ceiling. Prints its port; stops when stdin closes.
TRIVIAL_SERVER = r"""
import asyncio, sys
BODY = b'{"decision_id":"trivial","outcome":"APPROVE","reasons":[],"actions":[],"release":"x"}'
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(BODY), BODY)

class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (head := self.buffer.find(b"\r\n\r\n")) >= 0:
            low = self.buffer[:head].lower()
            at = low.find(b"content-length:")
            stop = low.find(b"\r\n", at)
            length = int(low[at + 15:stop if stop >= 0 else head]) if at >= 0 else 0
            if len(self.buffer) < head + 4 + length:
                return
            self.buffer = self.buffer[head + 4 + length:]
            self.transport.write(ANSWER)

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)

try:
    import uvloop
    uvloop.run(main())
except ImportError:
    asyncio.run(main())
"""

# Receivers that only count (a run delivers far too much to keep): an aiosmtpd server
# or an HTTP server answering 200. Prints `{"port": P}`; on stdin's close, the count.
CATCHER = r"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count, lock = [0], threading.Lock()

def seen():
    with lock:
        count[0] += 1

if sys.argv[1] == "smtp":
    from aiosmtpd.controller import Controller
    class Handler:
        async def handle_DATA(self, server, session, envelope):
            seen()
            return "250 OK"
    controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[2]))
    controller.start()
else:
    class Hook(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Hook)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps({"ready": True}), flush=True)
sys.stdin.read()
print(json.dumps({"received": count[0]}), flush=True)
"""


# --------------------------------------------------------------------------
# A scratch repository, deployed, with the mu CLI only
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    """A deployed scratch repository and what the load needs."""

    name: str
    base: Path
    root: Path
    target: Path
    runtime_key: Path


def mu_run(*args: str, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`mu --root ROOT ARGS` in a new process, as a user runs it (bounded: 10 minutes)."""
    return subprocess.run(
        [sys.executable, "-m", "mu.cli", "--root", str(root), *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )


def mu(*args: str, root: Path, env: dict[str, str]) -> str:
    """Run `mu` in a new process; its stdout, or stop the benchmark if it fails."""
    proc = mu_run(*args, root=root, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"mu {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def request_bytes(port: int, body: bytes) -> bytes:
    """One complete `POST /v1/decide` request."""
    head = (
        f"POST /v1/decide HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def transactions(name: str) -> list[dict[str, Any]]:
    """`POOL` valid transactions of the set, each with its own id."""
    if name == "example":
        samples = sample_transactions()
        return [numbered(samples[i % len(samples)].transaction, i) for i in range(POOL)]
    return [synthetic_transaction(i) for i in range(POOL)]


def prepare(name: str, tmp: Path, env: dict[str, str]) -> Scratch:
    """Write the set's repository, sign its trust root, approve, build and deploy it."""
    base = tmp / name
    root, keys = base / "repo", base / "keys"
    keys.mkdir(parents=True)
    if name == "example":
        for part in ("ontology", "golden"):
            shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        write_repository(root, int(name.removeprefix("synthetic")))

    def run(*words: str) -> str:
        return mu(*words, root=root, env=env)

    for key in ("root", "release", "compliance", "runtime"):
        run("keygen", "--out", str(keys / f"{key}.pem"))
    run("trust", "init", "--root-key", str(keys / "root.pem"), "--repository", f"bench/{name}")
    for key, role, identity in (
        ("release", "release", "release-bot"),
        ("compliance", "compliance", "alice"),
        ("runtime", "runtime", "payments-runtime"),
    ):
        run("trust", "add", str(keys / f"{key}.pem.pub"), "--role", role, "--identity", identity)
    run("trust", "sign", "--key", str(keys / "root.pem"))
    run("approve", "--key", str(keys / "compliance.pem"))
    built = json.loads(run("build", "--sign-key", str(keys / "release.pem"), "--format", "json"))
    target = base / "deploy" / "current"
    target.parent.mkdir()
    run("deploy", "--receipt", built["receipt"], "--target", str(target))
    return Scratch(name, base, root, target, keys / "runtime.pem")


# --------------------------------------------------------------------------
# The load
# --------------------------------------------------------------------------


@dataclass
class Level:
    """What one level of concurrency saw."""

    clients: int
    seconds: float = 0.0
    answered: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    decision_ids: list[bytes] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0  # share of one core
    server_cpu: float = 0.0

    @property
    def rate(self) -> float:
        """Decisions answered 200 per second."""
        return len(self.decision_ids) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        """The p-th percentile of the latencies, in milliseconds."""
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] / 1e6 if ordered else 0.0


def _framing(head: bytes) -> tuple[int, bool]:
    """The body length and whether the server closes the connection after this answer."""
    low = head.lower()
    at = low.find(b"content-length:")
    if at < 0:
        raise ValueError("an answer without Content-Length")
    stop = low.find(b"\r\n", at)
    return int(low[at + 15 : stop]), b"connection: close" in low


async def _client(
    port: int, requests: Sequence[bytes], first: int, deadline: int, level: Level
) -> None:
    """One virtual client: one connection, one request at a time, until `deadline` (ns)."""
    clock, n, i = time.perf_counter_ns, len(requests), first
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while clock() < deadline:
        if writer is None or reader is None:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError as exc:
                level.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.01)
                continue
        start = clock()
        try:
            writer.write(requests[i % n])
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = _framing(head)
            body = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            level.errors[type(exc).__name__] += 1
            writer.close()
            reader = writer = None
            continue
        level.latencies_ns.append(clock() - start)
        level.answered += 1
        i += 1
        status = head[9:12]
        found = DECISION_ID.search(body) if status == b"200" else None
        if found:
            level.decision_ids.append(found.group(1))
        else:
            level.errors[f"HTTP {status.decode('ascii', 'replace')}"] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def group_cpu_seconds(pgid: int | None) -> float:
    """CPU seconds (user + system) of every live process in process group `pgid`."""
    if pgid is None:
        return 0.0
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid:  # fields from the state on: pgrp, then utime and stime
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def drive(
    port: int, requests: Sequence[bytes], clients: int, seconds: float, pgid: int | None
) -> Level:
    """Run `clients` virtual clients for `seconds`; the level's figures."""
    level = Level(clients)

    async def everyone() -> None:
        deadline = time.perf_counter_ns() + int(seconds * 1e9)
        step = max(1, len(requests) // clients)
        await asyncio.gather(
            *(_client(port, requests, c * step, deadline, level) for c in range(clients))
        )

    cpu0, server0, wall0 = time.process_time(), group_cpu_seconds(pgid), time.perf_counter()
    _run(everyone())
    level.seconds = time.perf_counter() - wall0
    level.client_cpu = (time.process_time() - cpu0) / level.seconds
    level.server_cpu = (group_cpu_seconds(pgid) - server0) / level.seconds
    return level


def _run(coroutine: Any) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def client_ceiling(seconds: float, clients: int) -> Level:
    """The client against the trivial server: its own ceiling on this machine."""
    server = subprocess.Popen(
        [sys.executable, "-c", TRIVIAL_SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        requests = [request_bytes(port, json.dumps(t).encode()) for t in transactions("example")]
        return drive(port, requests, clients, seconds, server.pid)
    finally:
        server.kill()
        server.wait()


# --------------------------------------------------------------------------
# One set: serve, load, stop, check durability
# --------------------------------------------------------------------------


@dataclass
class SetResult:
    """A set's levels and what its log said afterwards."""

    name: str
    levels: list[Level]
    answered: int = 0
    logged: int = 0
    missing: int = 0
    stop_code: int | None = None
    verify_code: int | None = None
    verify_output: str = ""
    delivered: str = ""
    outbox: str = ""


def start_catcher(kind: str) -> tuple[subprocess.Popen[str] | None, int | None]:
    """The `--notify` receiver in a process of its own, and its port."""
    if kind == "none":
        return None, None
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", CATCHER, kind, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    if not proc.stdout.readline():
        raise SystemExit(f"the {kind} catcher did not start")
    return proc, port


def stop_catcher(proc: subprocess.Popen[str] | None) -> int | None:
    """Stop the receiver; how many messages it received."""
    if proc is None:
        return None
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    received = json.loads(proc.stdout.readline() or '{"received": null}')["received"]
    proc.wait(10)
    return received if isinstance(received, int) else None


def run_set(scratch: Scratch, args: argparse.Namespace, env: dict[str, str]) -> SetResult:
    """Serve the set, drive every level, stop the server, check the log."""
    catcher, catcher_port = start_catcher(args.notify)
    ledgers = {n: scratch.base / "ledgers" / f"{n}.jsonl" for n in ledger_names(scratch.root)}
    config = write_config(
        scratch.base / "serve.toml",
        runtime_key=scratch.runtime_key,
        ledgers=ledgers,
        smtp_port=catcher_port if args.notify == "smtp" else None,
        webhook_url=f"http://127.0.0.1:{catcher_port}/hook" if args.notify == "webhook" else None,
        checkpoint_every=1000,
        delivery=DELIVERY,
    )
    server = MuServer(
        scratch.root,
        scratch.target,
        workdir=scratch.base,
        config=config,
        env=env,
        startup_seconds=120,
    )
    result = SetResult(scratch.name, [])
    try:
        server.start()
        bodies = [json.dumps(t).encode() for t in transactions(scratch.name)]
        requests = [request_bytes(server.port, body) for body in bodies]
        first = post_json(f"{server.url}/v1/decide", bodies[0])
        if first.status != 200 or not isinstance(first.json, dict):
            raise SystemExit(f"mu serve answered {first.status}: {first.body[:2000]!r}")
        # Warm-up (not reported; its decisions are checked for durability like the rest).
        warm = drive(server.port, requests, 8, min(2.0, args.seconds / 4), server.pid)
        result.levels.append(warm)
        for clients in args.levels:
            result.levels.append(drive(server.port, requests, clients, args.seconds, server.pid))
        answered = {first.json["decision_id"].encode()}
        for level in result.levels:
            answered.update(level.decision_ids)
        result.levels.pop(0)  # the warm-up
        result.stop_code = server.stop()
    finally:
        if server.running:
            server.kill()
        received = stop_catcher(catcher)
    if received is not None:
        result.delivered = f"{received:,} messages reached the {args.notify} catcher"
    log = scratch.target.parent / f"{scratch.target.name}.decisions"
    logged = {str(r["decision_id"]).encode() for r in logged_decisions(log)}
    result.answered, result.logged = len(answered), len(logged)
    result.missing = len(answered - logged)
    verify = mu_run("decisions", "verify", str(log), root=scratch.root, env=env)
    result.verify_code = verify.returncode
    result.verify_output = next(iter((verify.stdout + verify.stderr).strip().splitlines()), "")
    result.outbox = outbox_summary(scratch, env)
    return result


def outbox_summary(scratch: Scratch, env: dict[str, str]) -> str:
    """What `mu actions status` says of the outbox once the server is down."""
    target = str(scratch.target)
    status = mu_run(
        "actions", "status", "--target", target, "--format", "json", root=scratch.root, env=env
    )
    try:
        totals = json.loads(status.stdout)["totals"]
    except (ValueError, KeyError, TypeError):
        return f"`mu actions status` exit {status.returncode}: {status.stderr.strip()[:300]}"
    return ", ".join(f"{state} {count:,}" for state, count in sorted(totals.items()))


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


def report(results: list[SetResult], ceiling: Level, load: tuple[float, float]) -> None:
    """Print the table, the ceiling, durability, the target and the ratios."""
    print(
        f"{os.cpu_count()} CPUs, load average before and after {load[0]:.2f} / "
        f"{os.getloadavg()[0]:.2f}; Python {sys.version.split()[0]}; loopback only\n"
    )
    print(
        "| set | clients | requests | decisions/s | p50 ms | p99 ms | max ms | errors "
        "| mu serve CPU (cores) | client CPU (cores) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        for lv in result.levels:
            errors = sum(lv.errors.values())
            print(
                f"| {result.name} | {lv.clients} | {lv.answered:,} | {lv.rate:,.0f} | "
                f"{lv.percentile_ms(0.5):.2f} | {lv.percentile_ms(0.99):.2f} | "
                f"{lv.percentile_ms(1.0):.2f} | {errors} | {lv.server_cpu:.2f} | "
                f"{lv.client_cpu:.2f} |"
            )
    print()
    print(
        f"client ceiling ({ceiling.clients} clients, trivial server): {ceiling.rate:,.0f} "
        f"requests/s at {ceiling.client_cpu:.2f} cores of client CPU"
    )
    for result in results:
        for lv in result.levels:
            if lv.errors:
                print(f"{result.name}, {lv.clients} clients, errors: {dict(lv.errors)}")
    print()
    for r in results:
        verdict = (
            "every one in the log" if r.missing == 0 else f"{r.missing:,} MISSING from the log"
        )
        print(
            f"durability, {r.name}: {r.answered:,} decisions answered 200, {verdict} "
            f"({r.logged:,} decision records); SIGTERM exit {r.stop_code}; "
            f"`mu decisions verify` exit {r.verify_code}: {r.verify_output}"
        )
        if r.delivered:
            print(f"  {r.delivered} during the run")
        print(f"  outbox after the stop (`mu actions status`): {r.outbox}")
    print()
    by_name = {r.name: {lv.clients: lv for lv in r.levels} for r in results}
    example = by_name.get("example", {})
    if 32 in example:
        lv = example[32]
        rate_ok = "met" if lv.rate >= TARGET_RATE else "NOT met"
        p99_ok = "met" if lv.percentile_ms(0.99) < TARGET_P99_MS else "NOT met"
        print(
            f"target, example at 32 clients: {lv.rate:,.0f} decisions/s (>= {TARGET_RATE:,.0f}: "
            f"{rate_ok}); p99 {lv.percentile_ms(0.99):.2f} ms (< {TARGET_P99_MS:.0f} ms: {p99_ok})"
        )
    for name, levels in by_name.items():
        low, high = min(levels, default=None), max(levels, default=None)
        if low is not None and high is not None and high != low and levels[low].rate:
            print(
                f"{name}: {high} clients / {low} client = "
                f"{levels[high].rate / levels[low].rate:.2f}x the decisions/s"
            )
        if high is not None and levels[high].rate:
            print(
                f"{name}: client ceiling / mu at {high} clients = "
                f"{ceiling.rate / levels[high].rate:.1f}x"
            )
    if example and "synthetic1000" in by_name:
        both = sorted(set(example) & set(by_name["synthetic1000"]))
        if both and example[both[-1]].rate:
            ratio = by_name["synthetic1000"][both[-1]].rate / example[both[-1]].rate
            print(f"synthetic1000 / example at {both[-1]} clients = {ratio:.2f}x the decisions/s")


def main() -> None:
    """Set up each set, measure the client's ceiling, serve and load each set, report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sets", default=",".join(SETS), help="Comma-separated: " + ", ".join(SETS)
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="Load per level.")
    parser.add_argument("--levels", default="1,8,32", help="Concurrent clients, comma-separated.")
    parser.add_argument("--notify", choices=("smtp", "webhook", "none"), default="smtp")
    args = parser.parse_args()
    args.levels = [int(n) for n in args.levels.split(",")]
    sets = args.sets.split(",")
    if unknown := sorted(set(sets) - set(SETS)):
        parser.error(f"unknown set {unknown[0]!r}; choose from {', '.join(SETS)}")
    if not 0 < args.seconds <= 120 or not all(0 < n <= 256 for n in args.levels):
        parser.error("--seconds must be in (0, 120] and each level in 1..256 (the run is bounded)")
    load_before = os.getloadavg()[0]  # the figures only mean something on an idle machine
    results = []
    with tempfile.TemporaryDirectory(prefix="mu-serve-bench-") as tmp:
        # Keys and the development key live in the scratch directory, never in $HOME.
        env = {**os.environ, "XDG_CONFIG_HOME": str(Path(tmp) / "xdg")}
        ceiling = client_ceiling(min(args.seconds, 5.0), max(args.levels))
        for name in sets:
            print(f"setting up {name} ...", file=sys.stderr, flush=True)
            scratch = prepare(name, Path(tmp), env)
            print(f"serving {name} ...", file=sys.stderr, flush=True)
            results.append(run_set(scratch, args, env))
    report(results, ceiling, (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
