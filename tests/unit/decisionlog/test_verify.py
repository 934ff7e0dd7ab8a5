"""`verify_log` finds every kind of tampering, says since which record, and never raises on
hostile content."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mu.generator.decisionlog import CheckpointSigner, LogVerdict, checkpoint_signer, verify_log
from mu.generator.decisionlog.codec import line_hash
from mu.generator.errors import CheckFailed, InputError
from mu.generator.provenance.claims import TrustRef
from mu.generator.provenance.signing import resolve_signer
from mu.generator.reports.decisions import verify_json, verify_text
from tests.unit.decisionlog.conftest import (
    Trust,
    lines,
    make_log,
    record,
    rotate_runtime,
    write_lines,
)

Lines = list[bytes]


@pytest.fixture
def log(tmp_path: Path, trust: Trust) -> Path:
    """0 genesis, 1-4 decisions, 5 checkpoint, 6-9 decisions, 10 checkpoint, 11-12
    decisions, 13 shutdown checkpoint."""
    directory = tmp_path / "log"
    make_log(directory, trust.signer(), 10, checkpoint_every=4)
    kinds = [record(line)["kind"] for line in lines(directory)]
    assert [i for i, k in enumerate(kinds) if k == "checkpoint"] == [5, 10, 13]
    return directory


def checked(directory: Path, trust: Trust, **kw: bool) -> LogVerdict:
    verdict = verify_log(directory, trust.history, **kw)
    # Every verdict renders, whatever it holds.
    assert verify_text(verdict)
    assert json.loads(verify_json(verdict))["ok"] is verdict.ok
    return verdict


def rechain(data: Lines, start: int) -> Lines:
    """Recompute every `prev` from line `start` on, as a forger without the key would."""
    out = list(data)
    for index in range(start, len(out)):
        value = json.loads(out[index])
        value["prev"] = line_hash(out[index - 1])
        out[index] = (json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n").encode()
    return out


def _edit(index: int, old: bytes, new: bytes) -> Callable[[Lines], Lines]:
    def edit(data: Lines) -> Lines:
        assert old in data[index]
        data[index] = data[index].replace(old, new)
        return data

    return edit


def _swap(data: Lines) -> Lines:
    data[6], data[7] = data[7], data[6]
    return data


def _forge(data: Lines) -> Lines:
    value = json.loads(data[5])
    sig = bytearray(base64.b64decode(value["envelope"]["signatures"][0]["sig"]))
    sig[0] ^= 1
    value["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    data[5] = (json.dumps(value, sort_keys=True, separators=(",", ":")) + "\n").encode()
    return data


TAMPERING: dict[str, tuple[Callable[[Lines], Lines], int, str]] = {
    "edited outcome": (_edit(2, b'"REJECT"', b'"APPROVE"'), 2, "sha256 of the line before"),
    "edited transaction": (_edit(7, b'"10.00"', b'"99.00"'), 7, "`tx_digest`"),
    "edited decision id": (_edit(3, b'-3"', b'-9"'), 3, "decision_id"),
    "not canonical": (_edit(4, b'"kind":', b'"kind": '), 4, "canonical form"),
    "deleted line": (lambda d: d[:3] + d[4:], 3, "record 3 belongs"),
    "deleted lines": (lambda d: d[:3] + d[6:], 3, "records 3 to 5"),
    "reordered": (_swap, 6, "record 6 belongs"),
    "line cut inside": (lambda d: [*d[:8], d[8][:60] + b"\n", *d[9:]], 8, "not JSON"),
    "last line cut": (lambda d: [*d[:13], d[13][:100]], 11, "cut off"),
    "last line deleted": (lambda d: d[:13], 11, "not covered"),
    "cut back to a checkpoint": (lambda d: d[:11], 11, "not a shutdown checkpoint"),
    "rewritten chain": (
        lambda d: rechain(_edit(7, b'"10.00"', b'"99.00"')(d), 7),
        6,
        "were rewritten",
    ),
    "forged signature": (_forge, 5, "signed by no key"),
    "edited checkpoint reason": (
        _edit(5, b'"reason":"interval"', b'"reason":"shutdown"'),
        5,
        "signs other values",
    ),
    "genesis edited": (_edit(0, b'"format":1', b'"format":2'), 0, "malformed `format`"),
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampering_is_found_with_the_first_bad_record(name: str, log: Path, trust: Trust) -> None:
    assert checked(log, trust).ok
    change, first_bad, message = TAMPERING[name]
    write_lines(log, change(lines(log)))
    verdict = checked(log, trust)
    assert not verdict.ok
    assert verdict.first_bad_seq == first_bad, verdict.problems
    assert any(message in p.message or message in p.where for p in verdict.problems), (
        verdict.problems
    )


@pytest.fixture
def rotated_log(tmp_path: Path, trust: Trust) -> Path:
    directory = tmp_path / "log"
    make_log(directory, trust.signer(), 14, segment_records=5)
    # 4 + 5 + 5 decisions, each segment ending on a rotation; the shutdown checkpoint alone
    assert len(list((directory / "segments").iterdir())) == 4
    return directory


def test_a_missing_middle_segment(rotated_log: Path, trust: Trust) -> None:
    first = record(lines(rotated_log, 2)[0])["seq"]
    (rotated_log / "segments" / "000002.jsonl").unlink()
    verdict = checked(rotated_log, trust)
    assert verdict.first_bad_seq == first
    assert verdict.problems[0].where == "segment `000002.jsonl`"
    assert verdict.problems[0].message == "is missing"


def test_a_missing_last_segment(rotated_log: Path, trust: Trust) -> None:
    end = record(lines(rotated_log, 3)[-1])["seq"]
    (rotated_log / "segments" / "000004.jsonl").unlink()
    verdict = checked(rotated_log, trust)
    assert verdict.first_bad_seq == end + 1
    assert "`000004.jsonl` after it is missing" in verdict.problems[0].message
    live = checked(rotated_log, trust, live=True)
    assert live.ok and any("missing" in n for n in live.notes)


def test_a_missing_first_segment(rotated_log: Path, trust: Trust) -> None:
    (rotated_log / "segments" / "000001.jsonl").unlink()
    verdict = checked(rotated_log, trust)
    assert verdict.first_bad_seq == 0 and not verdict.ok


def test_an_unsigned_log_is_not_covered(tmp_path: Path, trust: Trust) -> None:
    make_log(tmp_path / "log", None, 3)
    verdict = checked(tmp_path / "log", trust)
    assert not verdict.ok and verdict.first_bad_seq == 0
    assert verdict.problems[0].where == "records 0 to 3"
    assert "not covered by a signed checkpoint (3 decision(s))" in verdict.problems[0].message


def test_a_key_of_another_role_cannot_sign_checkpoints(tmp_path: Path, trust: Trust) -> None:
    with pytest.raises(CheckFailed, match="not trusted for runtime") as caught:
        checkpoint_signer(trust.layout, trust.key("release"), trust.history)
    assert "--role runtime" in caught.value.hint
    # Signed anyway, with the release key: every checkpoint is refused.
    root = trust.history.newest
    forged = CheckpointSigner(
        resolve_signer(trust.layout, trust.key("release")),
        "bot",
        "acme/p",
        TrustRef(root.version, root.digest),
    )
    make_log(tmp_path / "log", forged, 5, checkpoint_every=2)
    verdict = checked(tmp_path / "log", trust)
    assert verdict.first_bad_seq == 0 and verdict.covered_seq == -1
    assert "signed by no key the trust root allows" in verdict.problems[0].message
    assert "`bot` holds only release" in verdict.problems[0].message


@pytest.mark.parametrize(
    ("repository", "version", "message"),
    [("other/repo", 1, "not of `acme/p`"), ("acme/p", 7, "does not have")],
)
def test_a_checkpoint_must_name_this_repository_and_a_known_version(
    tmp_path: Path, trust: Trust, repository: str, version: int, message: str
) -> None:
    good = trust.signer()
    signer = CheckpointSigner(
        good.signer, good.identity, repository, TrustRef(version, good.trust_root.digest)
    )
    make_log(tmp_path / "log", signer, 2)
    verdict = checked(tmp_path / "log", trust)
    assert not verdict.ok and message in verdict.problems[0].message


def test_the_last_checkpoint_needs_a_key_holding_runtime_today(
    tmp_path: Path, trust: Trust
) -> None:
    log = tmp_path / "log"
    make_log(log, trust.signer(), 3)
    rotated = rotate_runtime(trust, tmp_path)
    assert checked(log, trust).ok  # under version 1, `svc` holds runtime
    stale = checked(log, rotated)
    assert not stale.ok and stale.first_bad_seq == 0
    assert "no longer holds `runtime`" in stale.problems[0].message
    with pytest.raises(CheckFailed, match="not trusted for runtime"):
        rotated.signer("runtime")
    make_log(log, rotated.signer("runtime2"), 1)  # the new key signs the whole log again
    assert checked(log, rotated).ok


def test_a_running_log_is_a_note_when_live(tmp_path: Path, trust: Trust) -> None:
    writer = make_log(tmp_path / "log", trust.signer(), 3, close=False)
    try:
        assert not checked(tmp_path / "log", trust).ok
        live = checked(tmp_path / "log", trust, live=True)
        assert live.ok and any("not covered" in n for n in live.notes)
        with (tmp_path / "log" / "segments" / "000001.jsonl").open("ab") as handle:
            handle.write(b'{"half":')
        live = checked(tmp_path / "log", trust, live=True)
        assert live.ok and any("being written" in n for n in live.notes)
    finally:
        os.truncate(
            tmp_path / "log" / "segments" / "000001.jsonl",
            sum(len(line) for line in lines(tmp_path / "log")[:-1]),
        )
        writer.close()


HOSTILE_LINES = [
    b"not json\n",
    b"[1,2]\n",
    b"\xff\xfe\n",
    b"[" * 100_000 + b"\n",
    b'{"seq": 3, "seq": 3}\n',
    b'{"seq":' + b"9" * 5000 + b"}\n",
    b'{"seq":3.0}\n',
    b'{"seq":"3"}\n',
    b'{"seq":true}\n',
    b'{"seq":3,"x":NaN}\n',
    b'{"seq":3,"kind":"decision"}\n',
    b'{"seq":3,"kind":7}\n',
    b'{"seq":3,"kind":"genesis"}\n',
    b'{"seq":3,"kind":"checkpoint","envelope":5,"reason":"interval","time":"x"}\n',
    b'{"seq":3,"kind":"checkpoint","envelope":{"payload":"!","payloadType":"x","signatures":[]}}\n',
    b'{"seq":3,"kind":"checkpoint","envelope":{"payload":"e30=","payloadType":'
    b'"application/vnd.in-toto+json","signatures":[{"keyid":"k","sig":"AA=="}]}}\n',
    b'{"seq":3,"kind":"decision","transaction":{"a":1e999999999},"tx_digest":"00"}\n',
    b'{"seq":3,"kind":"decision","reasons":[1],"actions":"x","release":5,"decision_id":[]}\n',
    b'{"seq":3,"kind":"checkpoint","envelope":{"a":' + b"[" * 5000 + b"]" * 5000 + b"}}\n",
    b"x" * (2 * 1024 * 1024) + b"\n",
]


@pytest.mark.parametrize("hostile", HOSTILE_LINES, ids=lambda b: repr(b[:40]))
def test_hostile_lines_are_problems_not_tracebacks(hostile: bytes, log: Path, trust: Trust) -> None:
    data = lines(log)
    data[3] = hostile
    write_lines(log, data)
    verdict = checked(log, trust)
    assert not verdict.ok and verdict.first_bad_seq in (2, 3), verdict.problems


def test_hostile_files_are_problems(log: Path, trust: Trust, tmp_path: Path) -> None:
    segments = log / "segments"
    (segments / "README").write_text("hello")
    os.mkfifo(segments / "000002.jsonl")
    (tmp_path / "elsewhere.jsonl").write_bytes(b"{}\n")
    (segments / "000003.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    (segments / "000004.jsonl").mkdir()
    (segments / "000005.jsonl").write_bytes(b"")
    verdict = checked(log, trust)
    messages = [f"{p.where} {p.message}" for p in verdict.problems]
    assert any("000002.jsonl` is not a regular file" in m for m in messages)
    assert any("000003.jsonl` is a symbolic link" in m for m in messages)
    assert any("000004.jsonl` is not a regular file" in m for m in messages)
    assert any("000005.jsonl` is empty" in m for m in messages)
    assert any("README" in n for n in verdict.notes)
    assert verdict.first_bad_seq == 14


def test_a_directory_without_a_log(tmp_path: Path, trust: Trust) -> None:
    verdict = checked(tmp_path, trust)
    assert not verdict.ok and "holds no segment files" in verdict.problems[0].message
    with pytest.raises(InputError, match="is not a directory"):
        verify_log(tmp_path / "missing", trust.history)


def test_many_problems_are_capped(log: Path, trust: Trust) -> None:
    write_lines(log, [b"garbage\n"] * 500)
    verdict = checked(log, trust)
    assert len(verdict.problems) == 51 and verdict.first_bad_seq == 0


def test_the_report_says_since_which_record(log: Path, trust: Trust) -> None:
    assert verify_text(checked(log, trust)).endswith(
        "ok: no record was edited, deleted, reordered or cut (records 0 to 13)"
    )
    write_lines(log, [line for index, line in enumerate(lines(log)) if index != 2])
    verdict = checked(log, trust)
    text = verify_text(verdict)
    assert "record 3 (`000001.jsonl` line 3): comes where record 2 belongs" in text
    assert text.endswith("error: 1 problem(s): records from 2 on cannot be trusted")
    data = json.loads(verify_json(verdict))
    assert data["first_bad_seq"] == 2 and data["problems"][0]["location"]["line"] == 3
