"""A deploy under load switches the served release with no failed request (issue 12).

Answers before the switch name the old release, answers after it the new one,
and the decision log records which release made each decision.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.provenance.receipt import read_receipt
from tests.chain import Built
from tests.conftest import Run
from tests.servicekit import (
    MuServer,
    Response,
    close_connections,
    logged_decisions,
    numbered,
    post_json,
    sample_transactions,
    served,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


def _load(url: str, stop: threading.Event, out: list[Response], offset: int) -> None:
    samples = sample_transactions()
    n = 0
    try:
        while not stop.is_set():
            out.append(post_json(url, numbered(samples[n % len(samples)].transaction, offset + n)))
            n += 1
    finally:
        close_connections()


def test_a_deploy_during_load_switches_releases_without_a_failed_request(
    tmp_path: Path, built_two: Built, mu: Callable[..., Run]
) -> None:
    s = served(tmp_path, built_two, mu)  # the newer receipt is live
    old, new = s.release, read_receipt(built_two.receipts[0]).digest
    assert old != new
    config = write_config(tmp_path / "serve.toml", runtime_key=s.runtime_key, ledgers=s.ledgers)
    with MuServer.of(s, config) as server:
        stop = threading.Event()
        answers: list[list[Response]] = [[], []]
        threads = [
            threading.Thread(target=_load, args=(server.url + "/v1/decide", stop, answers[i],
                                                 i * 1_000_000))
            for i in range(2)
        ]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: sum(map(len, answers)) >= 50, 60, lambda: "no load")
            # Switch to the other link of the chain (older: deploy warns, and does it).
            deployed = mu("deploy", "--receipt", str(built_two.receipts[0]),
                          "--target", str(s.target), root=s.root)
            assert deployed.code == 0, deployed.out + deployed.err
            wait_until(
                lambda: any(a.json.get("release") == new for batch in answers for a in batch[-5:]),
                60,
                lambda: "the service never answered with the new release",
            )
            seen = sum(map(len, answers))
            wait_until(lambda: sum(map(len, answers)) >= seen + 50, 60, lambda: "no load")
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)

    for batch in answers:
        assert all(a.status == 200 for a in batch), {a.status: a.text for a in batch}
        releases = [a.json["release"] for a in batch]
        # One switch per client: old answers, then new ones, never back.
        switch = releases.index(new) if new in releases else len(releases)
        assert set(releases[:switch]) <= {old}
        assert set(releases[switch:]) <= {new}
    everything = [a for batch in answers for a in batch]
    assert {a.json["release"] for a in everything} == {old, new}
    logged = {r["decision_id"]: r["release"] for r in logged_decisions(s.log_dir)}
    assert all(logged[a.json["decision_id"]] == a.json["release"] for a in everything)
    verified = mu("decisions", "verify", str(s.log_dir), root=s.root)
    assert verified.code == 0, verified.out + verified.err
