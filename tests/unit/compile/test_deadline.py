"""Validation is bounded in time: an expensive shape ends with a clear error, not a hang."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import pytest

from mu.generator.compile.deadline import DeadlineExceeded, time_limit, validation_timeout
from mu.generator.errors import InputError
from tests.chain import Mu
from tests.conftest import mu_process

# Four unconstrained triple patterns: rdflib enumerates every combination of
# the ontology's ~1,000 triples, some 10^12 rows.
CROSS_JOIN = """\
@prefix ex: <https://acme.example/policy#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .

ex:CrossJoinShape a sh:NodeShape ;
    sh:target [ a sh:SPARQLTarget ; sh:select '''
        SELECT ?this WHERE {
            ?this ?p ?o . ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . FILTER (?o = ?i && ?c = ?f)
        }
    ''' ] ;
    sh:message "never" .
"""


@pytest.mark.slow
def test_an_expensive_shape_stops_at_the_time_limit(repo: Path) -> None:
    (repo / "ontology" / "shapes" / "cross.ttl").write_text(CROSS_JOIN, encoding="utf-8")
    started = time.monotonic()
    # A subprocess with its own timeout: without a limit, validation never ends.
    run = mu_process("validate", cwd=repo, timeout=120, extra_env={"MU_VALIDATION_TIMEOUT": "2"})
    elapsed = time.monotonic() - started
    assert run.code == 2, run.out + run.err
    assert "validation of `ontology` did not finish within 2 s" in run.err
    assert "cross join" in run.err and "MU_VALIDATION_TIMEOUT" in run.err
    assert "Traceback" not in run.err
    assert elapsed < 60


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf"])
def test_a_bad_timeout_setting_is_refused(
    value: str, repo: Path, mu: Mu, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MU_VALIDATION_TIMEOUT", value)
    run = mu("validate", root=repo)
    assert run.code == 2, run.out + run.err
    assert f"`MU_VALIDATION_TIMEOUT` must be a positive number of seconds, not `{value}`" in run.err


def test_the_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MU_VALIDATION_TIMEOUT", raising=False)
    assert validation_timeout() == 300
    monkeypatch.setenv("MU_VALIDATION_TIMEOUT", "2.5")
    assert validation_timeout() == 2.5
    monkeypatch.setenv("MU_VALIDATION_TIMEOUT", "0")
    with pytest.raises(InputError):
        validation_timeout()


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_time_limit_interrupts_and_restores_the_previous_timer() -> None:
    fired: list[int] = []

    def outer(signum: int, _frame: FrameType | None) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match=r"within 0\.2 s"), time_limit(0.2):
            _spin(10)
        assert time.monotonic() - started < 5
        # The outer handler and what is left of its timer are back.
        assert signal.getsignal(signal.SIGALRM) is outer
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30
        assert fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_time_limit_is_not_swallowed_by_except_exception() -> None:
    # rdflib and pySHACL catch `Exception` in places; the interruption must pass them.
    with pytest.raises(DeadlineExceeded), time_limit(0.2):
        for _ in range(200):
            with contextlib.suppress(Exception):
                _spin(0.05)
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


def test_a_block_that_finishes_in_time_leaves_no_timer() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with time_limit(5):
        pass
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) is before


def test_outside_the_main_thread_the_block_runs_without_a_limit() -> None:
    # Signals reach only the main thread (documented in generator.compile.deadline).
    outcome: list[str] = []

    def body() -> None:
        with time_limit(0.05):
            time.sleep(0.2)
        outcome.append("finished")

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert outcome == ["finished"]
