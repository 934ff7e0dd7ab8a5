"""The service never decides with a release that does not verify (issue 12, "health that
means something"; the insider's edit of a deployed module): health is 503, decisions are
refused, and it recovers once the signed bytes are back."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.chain import Built
from tests.conftest import Run
from tests.servicekit import (
    MuServer,
    get,
    numbered,
    post_json,
    sample_transactions,
    served,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


def test_a_tampered_release_is_never_served(
    tmp_path: Path, built: Built, mu: Callable[..., Run]
) -> None:
    s = served(tmp_path, built, mu)
    module = Path(os.path.realpath(s.target)) / "controls" / "approval_over_100k.py"
    signed = module.read_bytes()
    module.write_bytes(signed.replace(b"'100000", b"'900000"))  # weaken the threshold
    config = write_config(tmp_path / "serve.toml", runtime_key=s.runtime_key, ledgers=s.ledgers)
    server = MuServer.of(s, config)
    server.start(healthy=False)
    try:
        health = get(server.url + "/v1/health")
        assert health.status == 503, health.text
        assert "differ" in health.text
        sample = sample_transactions()[0]
        refused = post_json(server.url + "/v1/decide", numbered(sample.transaction, 1))
        assert refused.status == 503
        assert "outcome" not in refused.json
        module.write_bytes(signed)  # the signed bytes are back: it recovers without a restart
        wait_until(lambda: get(server.url + "/v1/health").status == 200, 30,
                   lambda: get(server.url + "/v1/health").text)
        answer = post_json(server.url + "/v1/decide", numbered(sample.transaction, 2))
        assert answer.status == 200 and answer.json["release"] == s.release
    finally:
        server.stop()
