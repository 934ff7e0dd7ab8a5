"""`kill -9` of `mu serve` under load, then a restart (issue 12's crash test).

Every decision answered 200 is in the log, the log verifies, the outbox resumes
and no action is lost; an edited or deleted log line is then found.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chain import Built
from tests.conftest import Run
from tests.servicekit import (
    MuServer,
    Response,
    SmtpCatcher,
    action_keys,
    close_connections,
    decided_ids,
    ledger_keys,
    logged_decisions,
    numbered,
    post_json,
    sample_transactions,
    served,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
CLIENTS = 4


def _load(url: str, stop: threading.Event, out: list[Response], offset: int) -> None:
    """Post decisions until `stop` or until the server goes away."""
    samples = sample_transactions()
    n = 0
    try:
        while not stop.is_set():
            sample = samples[n % len(samples)]
            out.append(post_json(url, numbered(sample.transaction, offset + n), timeout=10))
            n += 1
    except (OSError, http.client.HTTPException):
        # The server was killed under us (between the headers and the body, too: uvicorn
        # writes them apart): this request was never answered.
        pass
    finally:
        close_connections()


def _verify(mu: Callable[..., Run], root: Path, log_dir: Path, *more: str) -> Run:
    return mu("decisions", "verify", str(log_dir), "--format", "json", *more, root=root)


def test_a_killed_server_loses_no_answered_decision_and_no_action(
    tmp_path: Path, built: Built, mu: Callable[..., Run]
) -> None:
    s = served(tmp_path, built, mu)
    ledger_file = next(iter(s.ledgers.values()))
    with SmtpCatcher() as smtp:
        config = write_config(
            tmp_path / "serve.toml", runtime_key=s.runtime_key, ledgers=s.ledgers,
            smtp_port=smtp.port, checkpoint_every=50,
        )
        server = MuServer.of(s, config)
        server.start()
        stop = threading.Event()
        answers: list[list[Response]] = [[] for _ in range(CLIENTS)]
        threads = [
            threading.Thread(target=_load, args=(server.url + "/v1/decide", stop, answers[i],
                                                 i * 1_000_000))
            for i in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: sum(map(len, answers)) >= 300, 60, lambda: "no load")
        server.kill()  # SIGKILL, mid-load
        stop.set()
        for thread in threads:
            thread.join(30)
        done = [a for batch in answers for a in batch]
        assert all(a.status == 200 for a in done), {a.status for a in done}
        answered = decided_ids(done)
        assert len(answered) >= 300

        # Every answered decision was durable before its answer.
        logged = {r["decision_id"] for r in logged_decisions(s.log_dir)}
        assert answered <= logged, len(answered - logged)

        server.start()  # recovers the log's tail and refills the outbox
        live = _verify(mu, s.root, s.log_dir, "--live")
        assert live.code == 0, live.out + live.err
        # The outbox resumes: every action of every answered decision arrives.
        ledger = action_keys(done, "ledger")
        notify = action_keys(done, "notify")
        wait_until(
            lambda: set(ledger_keys(ledger_file)) >= ledger, 60,
            lambda: f"ledger holds {len(set(ledger_keys(ledger_file)) & ledger)}/{len(ledger)}",
        )
        wait_until(
            lambda: set(smtp.keys()) >= notify, 60,
            lambda: f"{len(set(smtp.keys()) & notify)}/{len(notify)} mails",
        )
        assert server.stop() == 0
    # Idempotent by key: a ledger line is never written twice, even across the crash.
    assert set(ledger_keys(ledger_file).values()) == {1}
    closed = _verify(mu, s.root, s.log_dir)
    assert closed.code == 0, closed.out + closed.err
    verdict = json.loads(closed.out)
    assert verdict["ok"] is True

    _tampering_is_found(mu, s.root, s.log_dir, tmp_path)


def _tampering_is_found(mu: Callable[..., Run], root: Path, log_dir: Path, tmp: Path) -> None:
    segment = sorted((log_dir / "segments").glob("*.jsonl"))[0]
    lines = segment.read_bytes().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if b'"outcome":"REJECT"' in line)
    edits = {
        "edited": [*lines[:target], lines[target].replace(b'"REJECT"', b'"APPROVE"'),
                   *lines[target + 1:]],
        "deleted": [*lines[:target], *lines[target + 1:]],
        "reordered": [*lines[:target], lines[target + 1], lines[target], *lines[target + 2:]],
    }
    for name, changed in edits.items():
        copy = tmp / f"log-{name}"
        shutil.copytree(log_dir, copy)
        (copy / "segments" / segment.name).write_bytes(b"".join(changed))
        run = _verify(mu, root, copy)
        assert run.code == 1, f"{name}: {run.out}{run.err}"
        verdict = json.loads(run.out)
        assert verdict["ok"] is False
        assert verdict["first_bad_seq"] is not None and verdict["first_bad_seq"] <= target + 1, (
            name, verdict["first_bad_seq"], target)


def test_a_log_cut_short_while_the_service_was_down_is_refused(
    tmp_path: Path, built: Built, mu: Callable[..., Run]
) -> None:
    """The chain cannot show lines removed from its very end; the outbox can."""
    s = served(tmp_path, built, mu)
    config = write_config(tmp_path / "serve.toml", runtime_key=s.runtime_key, ledgers=s.ledgers)
    server = MuServer.of(s, config)
    with server:
        samples = sample_transactions()
        for n in range(20):
            answer = post_json(server.url + "/v1/decide", numbered(samples[n % 6].transaction, n))
            assert answer.status == 200
    segment = sorted((s.log_dir / "segments").glob("*.jsonl"))[-1]
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(b"".join(lines[:-4]))  # the shutdown checkpoint and three decisions
    try:
        with pytest.raises(AssertionError) as refused:
            server.start()
    finally:
        if server.running:
            server.kill()
    assert "records were removed" in str(refused.value)
    # Nothing was signed over the shortened log: it still fails verification.
    assert _verify(mu, s.root, s.log_dir).code == 1


def test_a_killed_delivery_process_is_replaced_and_delivery_goes_on(
    tmp_path: Path, built: Built, mu: Callable[..., Run]
) -> None:
    from mu.generator.errors import InputError
    from mu.generator.outbox import Outbox
    from tests.servicekit import get

    s = served(tmp_path, built, mu)
    ledger_file = next(iter(s.ledgers.values()))
    config = write_config(tmp_path / "serve.toml", runtime_key=s.runtime_key, ledgers=s.ledgers)

    def beat() -> int | None:
        try:
            outbox = Outbox.open(s.log_dir / "outbox.sqlite3", create=False)
        except InputError:  # not made yet: the delivery process is starting
            return None
        try:
            found = outbox.heartbeat()
        finally:
            outbox.close()
        return found.pid if found is not None and found.fresh() else None

    with MuServer.of(s, config) as server:
        wait_until(lambda: beat() is not None, 30, lambda: "no heartbeat")
        first = beat()
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: beat() not in (None, first), 60, lambda: "not replaced")
        assert get(server.url + "/v1/health").status == 200
        sample = sample_transactions()[0]
        answer = post_json(server.url + "/v1/decide", numbered(sample.transaction, 1))
        keys = action_keys([answer], "ledger")
        wait_until(lambda: set(ledger_keys(ledger_file)) >= keys, 30, lambda: "not delivered")
