"""`mu decide --batch`: one result per input line, in input order, bounded memory,
in this process or on a pool of workers; a bad line is reported by its number and
decided INVALID, never skipped (generator/run/batch.py, cli.py)."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tomllib
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mu.generator.errors import CheckFailed, InputError
from mu.generator.run import batch, batchpool
from mu.generator.run.batch import (
    ERROR,
    INVALID,
    MAX_LISTED,
    BatchLine,
    RawLine,
    Tally,
    decide_batch,
    decide_line,
    line_json,
    line_text,
    read_lines,
    render_batch,
    summary_text,
)
from mu.generator.run.decide import MAX_TRANSACTION_BYTES
from tests.conftest import REPO, Run

Mu = Callable[..., Run]


def _golden() -> list[tuple[dict[str, Any], str]]:
    """Every transaction of the shipped golden suite with its expected outcome."""
    out = []
    for path in sorted((REPO / "golden").glob("*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8")).get("case", []):
            expect = case["expect"]
            out.append((dict(case["transaction"]), str(expect.get("outcome", INVALID))))
    return out


GOLDEN = _golden()
# The first APPROVE and the first REJECT of the suite: lines that must be decided.
APPROVED = next(tx for tx, outcome in GOLDEN if outcome == "APPROVE")
REJECTED = next(tx for tx, outcome in GOLDEN if outcome == "REJECT")


def _jsonl(*transactions: object) -> bytes:
    return b"".join(json.dumps(tx).encode() + b"\n" for tx in transactions)


@pytest.fixture(scope="module")
def pkg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding only a private copy of the shipped enforcers."""
    root = tmp_path_factory.mktemp("batch")
    shutil.copytree(
        REPO / "enforcers", root / "enforcers", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


@pytest.fixture(scope="module")
def pkg(pkg_root: Path) -> Path:
    return pkg_root / "enforcers"


@pytest.fixture(scope="module")
def standin_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in enforcer package that APPROVEs every transaction except a few ids:
    `die` ends its process, `slow` takes half a second, `stop` is a Ctrl-C, `crash`
    raises, `bad-dict` fails in `to_dict` and `odd` returns an outcome that is not one."""
    directory = tmp_path_factory.mktemp("standin") / "enforcers"
    directory.mkdir()
    (directory / "__init__.py").write_text(
        "import os, time\n"
        "class InvalidTransaction(ValueError):\n    problems = ()\n"
        "class EnforcementError(RuntimeError):\n    pass\n"
        "class _Decision:\n"
        "    def __init__(self, tx):\n        self.tx = tx\n"
        "    def to_dict(self, *, trace=True):\n"
        "        if self.tx['id'] == 'bad-dict':\n            raise TypeError('not JSON-able')\n"
        "        outcome = 'MAYBE' if self.tx['id'] == 'odd' else 'APPROVE'\n"
        "        return {'outcome': outcome, 'transaction_id': self.tx['id'], 'reasons': []}\n"
        "def evaluate(tx):\n"
        "    if tx['id'] == 'die':\n        os._exit(3)\n"
        "    if tx['id'] == 'slow':\n        time.sleep(0.5)\n"
        "    if tx['id'] == 'stop':\n        raise KeyboardInterrupt\n"
        "    if tx['id'] == 'crash':\n        raise KeyError('approver')\n"
        "    return _Decision(tx)\n",
        encoding="utf-8",
    )
    return directory


def _decide(data: bytes, pkg: Path, jobs: int = 1, **options: Any) -> list[BatchLine]:
    return list(decide_batch(Path("-"), pkg, jobs, stdin=io.BytesIO(data), **options))


# -- reading lines ---------------------------------------------------------------------


def test_lines_are_numbered_and_a_final_newline_starts_no_line() -> None:
    assert [(r.number, r.data) for r in read_lines(io.BytesIO(b"a\nb\n"))] == [(1, b"a"), (2, b"b")]
    assert [r.data for r in read_lines(io.BytesIO(b"a\nb"))] == [b"a", b"b"]
    assert [r.data for r in read_lines(io.BytesIO(b"\n\n"))] == [b"", b""]
    assert list(read_lines(io.BytesIO(b""))) == []


class _Recording(io.BytesIO):
    """A stream that remembers the longest piece any `readline` returned."""

    longest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        data = super().readline(size)
        self.longest = max(self.longest, len(data))
        return data


class _Counting(io.BytesIO):
    """A stream that counts the lines read from it so far."""

    lines = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        data = super().readline(size)
        self.lines += data.endswith(b"\n")
        return data


def test_an_over_long_line_is_refused_by_number_without_being_held() -> None:
    stream = _Recording(b"ok\n" + b"x" * 10_000 + b"\nnext\n" + b"y" * 200)
    lines = list(read_lines(stream, "the pipe", max_line_bytes=100))
    assert [(r.number, r.data) for r in lines] == [(1, b"ok"), (2, b""), (3, b"next"), (4, b"")]
    assert (
        lines[1].refused
        == "the line is 10,000 bytes long, more than the 100 a transaction may have"
    )
    assert "200 bytes long" in lines[3].refused
    assert stream.longest <= 64 * 1024  # read past in pieces, never as a whole


def test_the_default_line_bound_is_the_transaction_bound() -> None:
    stream = _Recording(b"{" + b" " * MAX_TRANSACTION_BYTES + b"}\n{}\n")
    lines = list(read_lines(stream))
    assert [r.number for r in lines] == [1, 2]
    assert lines[0].refused and not lines[1].refused
    assert stream.longest <= MAX_TRANSACTION_BYTES + 1


# -- deciding, in this process ----------------------------------------------------------


def test_every_golden_transaction_is_decided_as_one_decide_would_in_order(pkg: Path) -> None:
    from mu.generator.run.enforcers import load_enforcers

    module = load_enforcers(pkg)
    lines = _decide(_jsonl(*(tx for tx, _ in GOLDEN)), pkg)
    assert [line.line for line in lines] == list(range(1, len(GOLDEN) + 1))
    for line, (tx, _) in zip(lines, GOLDEN, strict=True):
        assert line.transaction_id == tx["id"]
        try:
            assert line.decision == module.evaluate(tx).to_dict(trace=False)
            assert line.outcome == line.decision["outcome"]
        except module.InvalidTransaction as exc:
            assert line.outcome == INVALID
            assert len(line.problems) == len(exc.problems)


def test_bad_lines_are_invalid_by_number_and_never_skipped(pkg: Path) -> None:
    missing = {k: v for k, v in APPROVED.items() if k != "amount"}
    data = (
        _jsonl(APPROVED)
        + b"{not json\n"
        + b"\n"
        + b"   \r\n"
        + b'{"id": "a", "id": "b"}\n'
        + b"[1, 2]\n"
        + b'{"id": "\xff"}\n'
        + _jsonl(missing, REJECTED)
    )
    lines = _decide(data, pkg)
    assert [(line.line, line.outcome) for line in lines] == [
        (1, "APPROVE"),
        (2, INVALID),
        (3, INVALID),
        (4, INVALID),
        (5, INVALID),
        (6, INVALID),
        (7, INVALID),
        (8, INVALID),
        (9, "REJECT"),
    ]
    by_number = {line.line: line for line in lines}
    assert "not valid JSON: Expecting property name enclosed in double quotes at column 2" in (
        by_number[2].error
    )
    assert by_number[3].error == by_number[4].error == "the line is blank, not a transaction"
    assert [(p.where, p.message) for p in by_number[5].problems] == [
        ("$.id", "the key `id` appears twice")
    ]
    assert by_number[6].error == "the line holds a list, not a JSON object"
    assert by_number[7].error == "the line is not valid UTF-8 (byte 8)"
    assert by_number[8].transaction_id == missing["id"]
    assert by_number[8].error.startswith("the transaction is refused (fails closed)")
    assert "`amount`" in [p.where for p in by_number[8].problems]
    assert not any(line.decided for line in lines if line.outcome == INVALID)


def test_an_over_long_line_is_invalid_and_the_next_line_is_decided(pkg: Path) -> None:
    data = _jsonl(APPROVED) + b'{"id": "' + b"x" * 5000 + b'"}\n' + _jsonl(REJECTED)
    lines = _decide(data, pkg, max_line_bytes=1000)
    assert [line.outcome for line in lines] == ["APPROVE", INVALID, "REJECT"]
    assert "more than the 1,000 a transaction may have" in lines[1].error


def test_an_empty_batch_decides_nothing_and_passes(pkg: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert list(decide_batch(empty, pkg)) == []
    assert _decide(b"", pkg, jobs=2) == []
    tally = Tally()
    assert tally.summary().ok and summary_text(tally.summary()).startswith("batch: 0 lines")


def test_a_file_and_standard_input_give_the_same_lines(pkg: Path, tmp_path: Path) -> None:
    data = _jsonl(APPROVED, REJECTED) + b"oops"
    path = tmp_path / "batch.jsonl"
    path.write_bytes(data)
    assert list(decide_batch(path, pkg)) == _decide(data, pkg)


def test_unreadable_input_and_enforcers_are_input_errors(
    pkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"cannot read `missing.jsonl`: no such file"):
        list(decide_batch(Path("missing.jsonl"), pkg))
    with pytest.raises(InputError, match="cannot read"):
        list(decide_batch(tmp_path, pkg))  # a directory
    with pytest.raises(InputError, match="not an enforcer package"):
        list(decide_batch(Path("-"), tmp_path, stdin=io.BytesIO(b"{}\n")))


def _fake(evaluate: Callable[[dict[str, Any]], Any]) -> types.ModuleType:
    module = types.ModuleType("fake_enforcers")
    module.InvalidTransaction = type("InvalidTransaction", (ValueError,), {})  # type: ignore[attr-defined]
    module.EnforcementError = type("EnforcementError", (RuntimeError,), {})  # type: ignore[attr-defined]
    module.evaluate = evaluate  # type: ignore[attr-defined]
    return module


def test_an_enforcement_error_or_a_crash_is_error_never_approve() -> None:
    def cannot(tx: dict[str, Any]) -> Any:
        raise module.EnforcementError("no rank for `L9`")

    module = _fake(cannot)
    line = decide_line(module, RawLine(7, b'{"id": "tx-7"}'))
    assert (line.line, line.outcome, line.transaction_id) == (7, ERROR, "tx-7")
    assert line.error == "the enforcer could not decide: no rank for `L9`"

    module = _fake(lambda tx: 1 / 0)
    line = decide_line(module, RawLine(8, b'{"id": "tx-8"}'))
    assert line.outcome == ERROR and not line.decided
    assert line.error.startswith("the enforcer failed: ZeroDivisionError")


def test_an_enforcer_crash_is_error_for_that_line_only(standin_pkg: Path) -> None:
    ids = ["a", "crash", "b", "bad-dict", "odd", "c"]
    lines = _decide(_jsonl(*({"id": i} for i in ids)), standin_pkg)
    assert [(line.line, line.outcome, line.transaction_id) for line in lines] == [
        (1, "APPROVE", "a"),
        (2, ERROR, "crash"),
        (3, "APPROVE", "b"),
        (4, ERROR, "bad-dict"),
        (5, ERROR, "odd"),
        (6, "APPROVE", "c"),
    ]
    assert lines[1].error == "the enforcer failed: KeyError: 'approver'"
    assert lines[3].error == "the enforcer failed: TypeError: not JSON-able"
    assert lines[4].error == "the enforcer returned the outcome `MAYBE`, not a decision"
    assert not any(line.decided for line in lines if line.outcome == ERROR)


# -- rendering and the summary ----------------------------------------------------------


def test_render_batch_renders_every_line_and_tallies_like_decide_batch(pkg: Path) -> None:
    data = _jsonl(APPROVED) + b"[]\n" + _jsonl(REJECTED)
    lines = _decide(data, pkg)
    rendered = list(render_batch(Path("-"), pkg, 1, line_text, stdin=io.BytesIO(data)))
    assert [r.text for r in rendered] == [line_text(line) for line in lines]
    by_lines, by_rendered = Tally(), Tally()
    for line, text in zip(lines, rendered, strict=True):
        by_lines.add(line)
        by_rendered.add(text)
    assert by_lines.summary() == by_rendered.summary()
    assert by_rendered.summary().failed_lines == (2,)


def test_text_and_json_lines(pkg: Path) -> None:
    rejected, invalid = _decide(_jsonl(REJECTED) + b"[]\n", pkg)
    assert line_text(rejected).startswith(f"line 1: REJECT {REJECTED['id']} (")
    assert line_text(invalid) == "line 2: INVALID: the line holds a list, not a JSON object"
    data = json.loads(line_json(rejected))
    assert "\n" not in line_json(rejected)
    assert (data["line"], data["outcome"], data["transaction_id"]) == (1, "REJECT", REJECTED["id"])
    assert data["decision"]["outcome"] == "REJECT"
    assert json.loads(line_json(invalid)) == {
        "line": 2,
        "outcome": "INVALID",
        "transaction_id": None,
        "error": "the line holds a list, not a JSON object",
        "problems": [],
    }


def test_the_summary_counts_every_outcome_and_lists_failed_lines_bounded() -> None:
    tally = Tally()
    for n in range(1, 101):
        decision = {"outcome": "APPROVE", "reasons": []} if n % 2 else None
        tally.add(BatchLine(n, "APPROVE" if decision else INVALID, decision=decision))
    summary = tally.summary()
    assert (summary.lines, summary.failed, summary.ok) == (100, 50, False)
    assert dict(summary.counts) == {"APPROVE": 50, "REJECT": 0, "REVIEW": 0, INVALID: 50, ERROR: 0}
    assert summary.failed_lines == tuple(range(2, 2 * MAX_LISTED + 1, 2))
    text = summary_text(summary)
    assert (
        text.splitlines()[0]
        == "batch: 100 lines: 50 APPROVE, 0 REJECT, 0 REVIEW, 50 INVALID, 0 ERROR"
    )
    assert "50 lines invalid or not decided: 2, 4," in text and "and 30 more" in text


# -- the pool of workers ----------------------------------------------------------------


@pytest.mark.slow  # starts worker processes
def test_two_workers_keep_input_order_and_match_one(
    pkg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pooled: list[int] = []

    def spy(chunks: Iterator[tuple[RawLine, ...]], *args: Any) -> Iterator[Any]:
        chunk = next(chunks)
        pooled.append(chunk[0].number)
        return real(itertools.chain((chunk,), chunks), *args)

    real = batchpool.pooled
    monkeypatch.setattr(batchpool, "pooled", spy)
    transactions = [tx for tx, _ in GOLDEN] * 3  # lines 1..56 here, the rest on the pool
    data = _jsonl(*transactions[:100]) + b"{bad\n" + _jsonl(*transactions[100:])
    one = _decide(data, pkg, jobs=1)
    assert pooled == []
    two = _decide(data, pkg, jobs=2, chunk_lines=7)
    assert pooled == [57]
    assert two == one
    assert [line.line for line in two] == list(range(1, len(transactions) + 2))
    assert two[100].outcome == INVALID
    # Bounded memory: the lines read ahead of the one yielded are at most the
    # window of 2 × jobs chunks in flight and the chunk being filled.
    stream = _Counting(data)
    rendered = []
    for result in render_batch(Path("-"), pkg, 2, line_json, stdin=stream, chunk_lines=7):
        assert stream.lines - result.line <= (2 * 2 + 1) * 7
        rendered.append(result)
    assert [r.text for r in rendered] == [line_json(line) for line in one]
    assert [(r.line, r.outcome, r.decided) for r in rendered] == [
        (line.line, line.outcome, line.decided) for line in one
    ]


@pytest.mark.slow  # starts worker processes
def test_a_dead_worker_stops_the_batch_naming_the_first_undecided_line(standin_pkg: Path) -> None:
    lines = [{"id": f"tx-{n}"} for n in range(1, 121)]
    lines[99] = {"id": "die"}  # line 100, in the pool's chunk of lines 97..104
    decided: list[BatchLine] = []
    with pytest.raises(CheckFailed) as failed:
        for line in decide_batch(
            Path("-"), standin_pkg, 2, stdin=io.BytesIO(_jsonl(*lines)), chunk_lines=8
        ):
            decided.append(line)
    # Lines 1..64 are decided here; from 65 on, in chunks of 8 by the pool. Every
    # line before the dead chunk's, and nothing after, is decided, and the error
    # names the first that is not (a broken pool fails every chunk still in
    # flight, so that may be a chunk before the dead one).
    first = len(decided) + 1
    assert [line.line for line in decided] == list(range(1, first))
    assert first in range(65, 98, 8)
    assert f"line {first} and the lines after it were not decided" in failed.value.message
    assert f"tail -n +{first} FILE" in failed.value.hint


@pytest.mark.slow  # starts worker processes
def test_results_keep_input_order_when_a_later_chunk_finishes_first(standin_pkg: Path) -> None:
    # Chunks of 4 from line 33 on (8 chunks of 4 are decided here first): line 34,
    # in the first pooled chunk, takes half a second, so the second worker finishes
    # the next chunks before it.
    ids = [f"tx-{n}" for n in range(1, 61)]
    ids[33] = "slow"
    lines = _decide(_jsonl(*({"id": i} for i in ids)), standin_pkg, jobs=2, chunk_lines=4)
    assert [line.transaction_id for line in lines] == ids
    assert [line.line for line in lines] == list(range(1, 61))


def _live_children() -> list[Any]:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.is_alive()]


@pytest.mark.slow  # starts worker processes
def test_closing_a_batch_early_stops_its_workers(pkg: Path) -> None:
    data = _jsonl(*([APPROVED] * 200))
    before = {p.pid for p in _live_children()}
    lines = decide_batch(Path("-"), pkg, 2, stdin=io.BytesIO(data), chunk_lines=4)
    for line in lines:
        if line.line == 40:  # on the pool: lines 33 on
            assert {p.pid for p in _live_children()} - before
            break
    lines.close()
    assert {p.pid for p in _live_children()} - before == set()


def test_a_worker_refuses_a_package_other_than_the_parents(pkg: Path) -> None:
    saved = signal.getsignal(signal.SIGINT)
    try:
        batchpool._start_worker(str(pkg), "_mu_enforcers_0000000000000000")
        with pytest.raises(batchpool.WorkerUnusable, match="the package changed on disk"):
            batchpool._decide_chunk((RawLine(1, b"{}"),), line_json)
        batchpool._start_worker(str(pkg.parent / "nowhere"), "x")
        with pytest.raises(batchpool.WorkerUnusable, match="not an enforcer package"):
            batchpool._decide_chunk((RawLine(1, b"{}"),), line_json)
    finally:
        signal.signal(signal.SIGINT, saved)
        batchpool._worker = "the worker process was not initialised"


# -- the command line -------------------------------------------------------------------


def _batch(mu: Mu, root: Path, data: bytes, *extra: str) -> Run:
    path = root / "batch.jsonl"
    path.write_bytes(data)
    return mu("decide", "--batch", str(path), "--jobs", "1", *extra, root=root)


def test_cli_batch_prints_one_line_per_input_line_then_the_summary(mu: Mu, pkg_root: Path) -> None:
    run = _batch(mu, pkg_root, _jsonl(APPROVED, REJECTED))
    assert run.code == 0, run.err  # a REJECT is a decision: the batch passed
    assert run.out.splitlines()[0] == f"line 1: APPROVE {APPROVED['id']}"
    assert run.out.splitlines()[1].startswith(f"line 2: REJECT {REJECTED['id']} (")
    assert run.err == "batch: 2 lines: 1 APPROVE, 1 REJECT, 0 REVIEW, 0 INVALID, 0 ERROR\n"


def test_cli_batch_json_is_one_object_per_line_and_an_invalid_line_fails(
    mu: Mu, pkg_root: Path
) -> None:
    run = _batch(
        mu,
        pkg_root,
        _jsonl(APPROVED) + b'{"a": 1, "a": 2}\n' + _jsonl(REJECTED),
        "--format",
        "json",
    )
    assert run.code == 1
    objects = [json.loads(text) for text in run.out.splitlines()]
    assert [(o["line"], o["outcome"]) for o in objects] == [
        (1, "APPROVE"),
        (2, INVALID),
        (3, "REJECT"),
    ]
    assert objects[1]["problems"] == [{"where": "$.a", "message": "the key `a` appears twice"}]
    assert "1 line invalid or not decided: 2" in run.err
    assert "Traceback" not in run.out + run.err


def test_cli_batch_reads_standard_input(pkg_root: Path) -> None:
    from mu.cli import cli

    argv = ["--root", str(pkg_root), "decide", "--batch", "-", "--format", "json"]
    result = CliRunner().invoke(cli, argv, input=_jsonl(APPROVED, REJECTED), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(t)["outcome"] for t in result.stdout.splitlines()] == ["APPROVE", "REJECT"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decide"], "takes one transaction file or `--batch FILE.jsonl`"),
        (["decide", "tx.json", "--batch", "b.jsonl"], "or `--batch FILE.jsonl`, not both"),
        (["decide", "tx.json", "--jobs", "2"], "`--jobs` applies to `--batch` only"),
        (["decide", "--batch", "missing.jsonl"], "missing.jsonl`: no such file or directory"),
        (["decide", "--batch", "b.jsonl", "--jobs", "0"], "0 is not in the range x>=1"),
        (["decide", "--batch", "b.jsonl", "--enforcers", "nowhere"], "not an enforcer package"),
    ],
)
def test_cli_batch_usage_and_unreadable_input_exit_2(
    mu: Mu, pkg_root: Path, argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(pkg_root)
    (pkg_root / "b.jsonl").write_bytes(_jsonl(APPROVED))
    run = mu(*argv, root=pkg_root)
    assert run.code == 2, run.out + run.err
    assert message in run.err
    assert run.out == ""  # a batch's standard output holds results only


def test_cli_batch_help_states_the_exit_codes() -> None:
    from mu.cli import cli

    text = " ".join(CliRunner().invoke(cli, ["decide", "--help"]).output.split())
    assert "--batch FILE.jsonl" in text and "--jobs" in text
    assert "Exit 0 when every line was decided (a REJECT is a decision), 1 when any line is " in (
        text
    )
    assert "INVALID or ERROR" in text and "130 when interrupted" in text


def test_cli_batch_formats_are_the_decision_formats() -> None:
    from mu.generator.reports import tables

    assert set(batch.LINE_RENDERERS) == set(tables.DECISION)


def test_cli_batch_jobs_defaults_to_every_cpu(
    mu: Mu, pkg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mu import cli

    asked = []
    seen = []

    def cpus() -> int:
        asked.append(True)
        return 1

    real = cli.render_batch

    def spy(source: Path, enforcers: Path, jobs: int, *args: Any, **kw: Any) -> Any:
        seen.append(jobs)
        return real(source, enforcers, jobs, *args, **kw)

    monkeypatch.setattr(cli, "default_jobs", cpus)
    monkeypatch.setattr(cli, "render_batch", spy)
    path = pkg_root / "default.jsonl"
    path.write_bytes(_jsonl(APPROVED))
    run = mu("decide", "--batch", str(path), root=pkg_root)
    assert run.code == 0, run.err
    assert asked and seen == [1]
    assert batch.default_jobs() >= 1


def test_cli_batch_reports_an_error_line_by_number_and_exits_1(
    mu: Mu, pkg_root: Path, standin_pkg: Path
) -> None:
    path = pkg_root / "crash.jsonl"
    path.write_bytes(_jsonl({"id": "a"}, {"id": "crash"}, {"id": "b"}))
    run = mu("decide", "--batch", str(path), "--enforcers", str(standin_pkg), root=pkg_root)
    assert run.code == 1
    assert run.out.splitlines() == [
        "line 1: APPROVE a",
        "line 2: ERROR crash: the enforcer failed: KeyError: 'approver'",
        "line 3: APPROVE b",
    ]
    assert run.err.splitlines()[:2] == [
        "batch: 3 lines: 2 APPROVE, 0 REJECT, 0 REVIEW, 0 INVALID, 1 ERROR",
        "error: 1 line invalid or not decided: 2",
    ]


def test_cli_batch_interrupted_says_where_to_resume_and_exits_130(
    mu: Mu, pkg_root: Path, standin_pkg: Path
) -> None:
    path = pkg_root / "stop.jsonl"
    path.write_bytes(_jsonl({"id": "a"}, {"id": "b"}, {"id": "stop"}, {"id": "c"}))
    run = mu("decide", "--batch", str(path), "--enforcers", str(standin_pkg), root=pkg_root)
    assert run.code == 130
    assert run.out.splitlines() == ["line 1: APPROVE a", "line 2: APPROVE b"]
    assert run.err.splitlines() == [
        "batch: 2 lines: 2 APPROVE, 0 REJECT, 0 REVIEW, 0 INVALID, 0 ERROR",
        "error: interrupted: lines from 3 on were not decided",
        "hint: send the lines from 3 on again (`tail -n +3 FILE`)",
    ]


def test_cli_batch_ends_quietly_when_the_reader_closes_the_pipe(
    mu: Mu, pkg_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mu import cli

    real = cli.click.echo
    written: list[object] = []

    def echo(message: object = None, **kw: Any) -> None:
        if not kw.get("err") and len(written) == 2:
            raise BrokenPipeError(32, "Broken pipe")
        if not kw.get("err"):
            written.append(message)
        real(message, **kw)

    monkeypatch.setattr(cli.click, "echo", echo)
    run = _batch(mu, pkg_root, _jsonl(APPROVED, REJECTED, APPROVED, REJECTED))
    assert run.code == 141
    assert len(run.out.splitlines()) == 2
    assert run.err == ""  # as any filter piped into `head`


@pytest.mark.slow  # `mu` in new processes, with a pool of workers
def test_end_to_end_batch_on_two_workers_equals_one(pkg_root: Path) -> None:
    decidable = [tx for tx, outcome in GOLDEN if outcome != INVALID]
    # Past the lines decided in the parent (8 chunks of 256), over several chunks.
    transactions = decidable * (1 + 3000 // len(decidable))
    data = _jsonl(*transactions[:300]) + b"\n" + _jsonl(*transactions[300:])
    outputs = []
    for jobs in ("1", "2"):
        argv = ["decide", "--batch", "-", "--jobs", jobs, "--format", "json"]
        proc = subprocess.run(
            [sys.executable, "-m", "mu.cli", *argv],
            cwd=pkg_root,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            input=data,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr.decode()  # the blank line 301 is invalid
        assert b"1 line invalid or not decided: 301\n" in proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == len(transactions) + 1


def _group(pgid: int) -> list[str]:
    """The states (`R`, `S`, …; zombies left out) of the processes in group `pgid`."""
    states = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            states.append(fields[0])
    return states


@pytest.mark.slow  # `mu` in a new process, with a pool of workers
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_end_to_end_ctrl_c_stops_the_workers_and_exits_130(pkg_root: Path) -> None:
    import threading
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "mu.cli", "decide", "--batch", "-", "--jobs", "2"],
        cwd=pkg_root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a terminal's job
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        data = _jsonl(*([APPROVED] * 5000))
        # Standard input stays open, so the batch waits for more after line 5000,
        # with the pool running: 2,048 lines here, then 4 chunks of 256 in flight.
        threading.Thread(target=proc.stdin.write, args=(data,), daemon=True).start()
        out: list[bytes] = []
        reader = threading.Thread(target=out.extend, args=(iter(proc.stdout.readline, b""),))
        reader.start()
        deadline = time.monotonic() + 120
        while len(out) < 4096 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(out) == 4096
        assert len(_group(proc.pid)) >= 3  # mu and its two workers
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        proc.wait(timeout=60)
        reader.join(timeout=10)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err and len(out) == 4096
    assert b"error: interrupted: lines from 4097 on were not decided" in err
    deadline = time.monotonic() + 10
    while _group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group(proc.pid) == []  # no worker left behind
