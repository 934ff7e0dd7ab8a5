"""The determinism gate: a second compile in its own process, started with the gates,
read over a pipe, judged on every byte and the digest, and never left running."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mu.generator.build import gates
from mu.generator.build.gates import SecondCompile, determinism_check, judge, run_gates
from mu.generator.compile import regen
from mu.generator.compile.pipeline import Compiled, compile_ontology
from mu.generator.errors import InputError
from mu.generator.layout import Layout
from tests.conftest import copy_repo

# Writes its pid where the test says, then compiles "forever".
SLEEPER = """
import os, sys, time
with open(sys.argv[1] + ".tmp", "w") as handle:
    handle.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""
# Sends back the stream stored in a file, as `compile.regen` would have.
REPLAY = "import shutil, sys; shutil.copyfileobj(open(sys.argv[1], 'rb'), sys.stdout.buffer)"


def stream(compiled: Compiled, files: dict[str, bytes] | None = None, digest: str = "") -> bytes:
    """What `compile.regen` sends back for `compiled`, or for other files or digest."""
    chosen = compiled.files if files is None else files
    return b"".join(regen.encode(digest or compiled.semantic_digest, chosen))


def one_byte_changed(files: dict[str, bytes], path: str) -> dict[str, bytes]:
    data = bytearray(files[path])
    data[len(data) // 2] ^= 0x01
    return {**files, path: bytes(data)}


def gone(pid: int) -> bool:
    """True when no process has `pid`: killed and reaped (a zombie still answers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def child_runs(monkeypatch: pytest.MonkeyPatch, script: str, argument: Path) -> None:
    """Make the gate start `script` instead of `compile.regen`."""
    monkeypatch.setattr(
        gates, "module_command", lambda *_: [sys.executable, "-c", script, str(argument)]
    )


def wait_for(path: Path) -> int:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, "the second compile never started"
        time.sleep(0.01)
    return int(path.read_text())


# -- the stream ---------------------------------------------------------------


def test_the_stream_round_trips_every_byte(example_compiled: Compiled) -> None:
    back = regen.decode(stream(example_compiled))
    assert back == regen.Rendered(example_compiled.semantic_digest, dict(example_compiled.files))


@pytest.mark.parametrize("cut", [1, -1])
def test_a_truncated_or_padded_stream_is_refused(example_compiled: Compiled, cut: int) -> None:
    whole = stream(example_compiled)
    damaged = whole[:-1] if cut == 1 else whole + b"x"
    with pytest.raises(ValueError, match="bytes of files"):
        regen.decode(damaged)


@pytest.mark.parametrize("garbage", [b"", b"not json\n", b'{"files": []}\n', b'{"x": 1}'])
def test_a_stream_without_a_header_is_refused(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        regen.decode(garbage)


def test_the_child_sends_the_stream_and_nothing_else(
    example_compiled: Compiled,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    def chatty(*_: object, **__: object) -> Compiled:
        print("a library that prints")
        return example_compiled

    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main() points it at stderr
    monkeypatch.setattr(regen, "compile_ontology", chatty)
    assert regen.main(["ontology", "[]"]) == 0
    out, err = capsysbinary.readouterr()
    assert regen.decode(out).files == example_compiled.files
    assert b"a library that prints" in err


def test_a_child_that_cannot_compile_says_why_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    def failing(*_: object, **__: object) -> Compiled:
        raise InputError("no ontology in `x`", hint="")

    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(regen, "compile_ontology", failing)
    assert regen.main(["x"]) == 2
    out, err = capsysbinary.readouterr()
    assert out == b"" and err == b"error: no ontology in `x`\n"


# -- the verdict --------------------------------------------------------------


def test_identical_output_passes(example_compiled: Compiled) -> None:
    check = judge(example_compiled, 0, stream(example_compiled), b"")
    assert check.ok and check.detail == "32 files byte-identical across processes"


def test_one_byte_of_one_file_differing_fails_naming_it(example_compiled: Compiled) -> None:
    files = one_byte_changed(dict(example_compiled.files), "controls/approval_over_100k.py")
    check = judge(example_compiled, 0, stream(example_compiled, files), b"")
    assert not check.ok
    assert check.detail == "files differ between processes: controls/approval_over_100k.py"


def test_a_missing_or_an_extra_file_fails(example_compiled: Compiled) -> None:
    fewer = dict(example_compiled.files)
    del fewer["dispatch.py"]
    more = {**example_compiled.files, "controls/planted.py": b""}
    for files, path in ((fewer, "dispatch.py"), (more, "controls/planted.py")):
        check = judge(example_compiled, 0, stream(example_compiled, files), b"")
        assert check.detail == f"files differ between processes: {path}"


def test_another_digest_fails_even_with_the_same_files(example_compiled: Compiled) -> None:
    check = judge(example_compiled, 0, stream(example_compiled, digest="0" * 64), b"")
    assert check.detail == "the ontology digest differs between processes"


def test_a_failed_or_garbled_second_compile_fails(example_compiled: Compiled) -> None:
    failed = judge(example_compiled, 2, b"", b"error: boom\n")
    assert not failed.ok and failed.detail == "second compile failed: error: boom"
    garbled = judge(example_compiled, 0, stream(example_compiled)[:-5], b"")
    assert not garbled.ok and garbled.detail == "the second compile gave no digest"


# -- the process --------------------------------------------------------------


@pytest.mark.slow
def test_bytes_that_differ_through_the_pipe_fail_the_gate(
    example_compiled: Compiled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = one_byte_changed(dict(example_compiled.files), "dispatch.py")
    sent = tmp_path / "stream"
    # Far more than a pipe holds: the parent must read while the child writes.
    padding = {f"controls/pad_{i}.py": bytes(4096) for i in range(100)}
    sent.write_bytes(stream(example_compiled, {**files, **padding}))
    child_runs(monkeypatch, REPLAY, sent)
    check = determinism_check(Path("ontology"), example_compiled)
    assert not check.ok and check.detail.startswith("files differ between processes: dispatch.py")
    sent.write_bytes(stream(example_compiled))
    assert determinism_check(Path("ontology"), example_compiled).ok


@pytest.mark.slow
def test_a_second_compile_that_hangs_is_killed_at_the_timeout(
    example_compiled: Compiled, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    child_runs(monkeypatch, SLEEPER, pid_file)
    monkeypatch.setattr(gates, "DETERMINISM_TIMEOUT", 2)
    with SecondCompile(Path("ontology"), frozenset()) as second:
        pid = wait_for(pid_file)
        check = second.check(example_compiled)
        assert check.detail == "the second compile did not finish in time"
        assert gone(pid)  # already at the verdict, not only on leaving the block


@pytest.fixture
def broken(tmp_path: Path) -> Layout:
    """The example with a negative threshold: the first compile fails validation."""
    root = copy_repo(tmp_path / "repo")
    approvals = root / "ontology" / "controls" / "approvals.ttl"
    text = approvals.read_text()
    assert '"100000.00"^^xsd:decimal' in text
    approvals.write_text(text.replace('"100000.00"^^xsd:decimal', '"-5.00"^^xsd:decimal', 1))
    return Layout(root)


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A sleeping second compile; the first compile waits until it runs (its pid file)."""
    pid_file = tmp_path / "pid"
    child_runs(monkeypatch, SLEEPER, pid_file)
    yield pid_file
    # A failed test must not leave its sleeper behind either.
    if pid_file.exists() and not gone(int(pid_file.read_text())):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


@pytest.mark.slow
def test_the_second_compile_is_killed_when_the_first_fails(
    broken: Layout, started: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def first(*args: object, **kwargs: object) -> Compiled:
        wait_for(started)  # the child is running while this process compiles
        return compile_ontology(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gates, "compile_ontology", first)
    run = run_gates(broken)
    assert run.ontology_failed and [g.name for g in run.gates] == ["ontology"]
    assert gone(wait_for(started)), "the second compile outlived a failed build"


@pytest.mark.slow
@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, InputError])
def test_the_second_compile_never_outlives_an_interrupted_build(
    tmp_path: Path, started: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    def first(*_: object, **__: object) -> Compiled:
        wait_for(started)
        raise error("interrupted") if error is InputError else error()

    monkeypatch.setattr(gates, "compile_ontology", first)
    with pytest.raises(error):
        run_gates(Layout(copy_repo(tmp_path / "repo")))
    assert gone(wait_for(started))


@pytest.mark.slow
def test_the_second_compile_runs_while_the_first_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children: list[SecondCompile] = []
    alive_during_compile: list[bool] = []

    class Recorded(SecondCompile):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)  # type: ignore[arg-type]
            children.append(self)

    def first(*args: object, **kwargs: object) -> Compiled:
        alive_during_compile.append(not gone(children[0].pid))
        return compile_ontology(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gates, "SecondCompile", Recorded)
    monkeypatch.setattr(gates, "compile_ontology", first)
    run = run_gates(Layout(copy_repo(tmp_path / "repo")))
    assert run.ok, run.gates
    names = [g.name for g in run.gates]
    assert names[:2] == ["ontology", "golden"] and names[-1] == "determinism"
    assert alive_during_compile == [True] and gone(children[0].pid)


@pytest.mark.slow
def test_the_second_compile_exits_when_its_parent_is_gone(tmp_path: Path) -> None:
    # A SIGKILLed build runs no `with` block; its end of the child's stdin closes all
    # the same, which is what closing it here does.
    second = SecondCompile(copy_repo(tmp_path).joinpath("ontology"), frozenset())
    assert second._process.stdin is not None
    second._process.stdin.close()
    assert second._process.wait(timeout=120) == 3
    second.stop()
    assert gone(second.pid)
